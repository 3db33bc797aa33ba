"""A simulated serial device on a pseudo-terminal, paced at its baud rate, with line-level faults.

The driver opens ``path`` (a stable symlink to the pty slave), so unplug/replug can swap the pty underneath
while the path stays the same, as a udev by-id link does for a USB adapter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tty
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

BITS_PER_BYTE = 10  # 8N1: start + 8 data + stop
# Line noise for the garbage fault: a fake ID-card preamble with an impossible LEN, then bytes that no
# decoder can take for a frame start, a printer status byte or an ECR control byte.
JUNK = b"\xaa\xaa\xaa\x96\x69\xff\xff\x00\x81\xe0\xfe"


def wire_time(n_bytes: int, baud: int) -> float:
    return n_bytes * BITS_PER_BYTE / baud


LINE_FAULTS: tuple[str, ...] = ("garbage", "split", "silent", "unplug", "replug")


class PtyDevice:
    """Pseudo-terminal endpoint: paced output, paced input delivery, and faults.

    Faults: ``silent`` (drop all output), ``garbage_next`` (junk before the next write),
    ``split`` (next writes in small chunks with pauses), ``unplug()``/``replug()``.
    """

    def __init__(self, name: str, link_dir: Path, baud: int = 115200, chunk: int = 64) -> None:
        self.name = name
        self.path = link_dir / name
        self.baud = baud
        self.chunk = chunk
        self.on_data: Callable[[bytes], None] = lambda data: None
        self.silent = False
        self.garbage_next = 0
        self.split = False
        self.plugged = False
        self.rx_bytes = 0
        self.tx_bytes = 0
        self._master = -1
        self._slave = -1
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._rx_free = 0.0
        self._next_free = 0.0
        self._generation = 0

    # -- plumbing ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.plug()
        self._writer = asyncio.get_running_loop().create_task(self._write_loop(), name=f"sim.{self.name}.tx")

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        self.unplug()

    def plug(self) -> None:
        if self.plugged:
            return
        loop = asyncio.get_running_loop()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo or line editing before the driver opens it
        os.set_blocking(self._master, False)
        loop.add_reader(self._master, self._readable)
        tmp = self.path.with_suffix(".new")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(os.ttyname(self._slave))
        tmp.replace(self.path)  # atomic: the path never points nowhere while plugged
        self.plugged = True
        self._generation += 1

    def unplug(self) -> None:
        """Close both pty ends: the driver's fd gets EIO/hang-up, and the path disappears."""
        if not self.plugged:
            return
        self.plugged = False
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._master)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._master = self._slave = -1
        while not self._queue.empty():
            self._queue.get_nowait()
            self._queue.task_done()

    def apply_line_fault(self, fault: str, value: object = True, *, garbage_bytes: int = 16) -> bool:
        """Faults of the cable rather than the device; True if ``fault`` was one of LINE_FAULTS."""
        if fault == "garbage":
            self.garbage_next = garbage_bytes if value is True else int(value)  # type: ignore[call-overload]
        elif fault in ("split", "silent"):
            setattr(self, fault, bool(value))
        elif fault == "unplug":
            self.unplug()
        elif fault == "replug":
            self.plug()
        else:
            return False
        return True

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        if not data:
            return
        self.rx_bytes += len(data)
        # Deliver at the time the last byte would have arrived on a real line.
        loop = asyncio.get_running_loop()
        self._rx_free = max(loop.time(), self._rx_free) + wire_time(len(data), self.baud)
        gen = self._generation
        loop.call_at(self._rx_free, self._deliver, data, gen)

    def _deliver(self, data: bytes, generation: int) -> None:
        if generation == self._generation and self.plugged:
            self.on_data(data)

    # -- output ------------------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        """Queue bytes for paced output (dropped while silent or unplugged)."""
        if self.silent or not self.plugged:
            return
        if self.garbage_next:
            data = (JUNK * (self.garbage_next // len(JUNK) + 1))[: self.garbage_next] + data
            self.garbage_next = 0
        self._queue.put_nowait(data)

    async def drain(self) -> None:
        """Wait until queued output has been written (used before a simulated reboot)."""
        await self._queue.join()

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = await self._queue.get()
            try:
                await self._paced(data, loop)
            finally:
                with contextlib.suppress(ValueError):  # unplug() may already have accounted for it
                    self._queue.task_done()

    async def _paced(self, data: bytes, loop: asyncio.AbstractEventLoop) -> None:
        # The line is continuous within one write: oversleeping one chunk is made up on the next.
        next_free = max(self._next_free, loop.time())
        step = 13 if self.split else self.chunk  # 13: splits headers at odd offsets
        try:
            for i in range(0, len(data), step):
                part = data[i : i + step]
                await self._write_raw(part)
                next_free += wire_time(len(part), self.baud)
                if self.split:
                    next_free += 0.002  # a pause long enough to make the reader see separate chunks
                delay = next_free - loop.time()
                if delay > 0.0005:
                    await asyncio.sleep(delay)
        finally:
            self._next_free = next_free

    async def _write_raw(self, data: bytes) -> None:
        view = memoryview(data)
        while view and self.plugged:
            try:
                n = os.write(self._master, view)
            except BlockingIOError:
                await asyncio.sleep(0.002)
                continue
            except OSError:
                return
            self.tx_bytes += n
            view = view[n:]
