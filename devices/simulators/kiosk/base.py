"""What every simulated kiosk peripheral shares: its pseudo-terminal, its life cycle and cable faults."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from devices.simulators.kiosk.pty_link import PtyDevice


class PtySimulator:
    """Subclasses set ``port`` in ``__init__`` and implement ``set_device_fault``."""

    FAULTS: tuple[str, ...] = ()
    GARBAGE_BYTES = 16  # junk sent by the "garbage" fault unless a count is given
    port: PtyDevice

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def path(self) -> Path:
        return self.port.path

    async def start(self) -> None:
        await self.port.start()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.port.stop()

    def set_fault(self, fault: str, value: Any = True) -> None:
        """Cable faults (garbage, split, silent, unplug, replug) first, then the device's own."""
        if self.port.apply_line_fault(fault, value, garbage_bytes=self.GARBAGE_BYTES):
            if fault == "replug":
                self.on_replug()
            return
        self.set_device_fault(fault, value)

    def set_device_fault(self, fault: str, value: Any) -> None:
        raise KeyError(f"unknown fault {fault!r}; have {self.FAULTS}")

    def on_replug(self) -> None:
        """A replugged device starts from a clean state; override where the device keeps any."""

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
