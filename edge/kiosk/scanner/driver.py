"""QR/barcode scanner driver: serial trigger on demand, gap flush, codes pushed to a listener."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from edge.kiosk.device import Completion, DeviceState, MediaState, Operation, OperationFailed, cancel_task
from edge.kiosk.driver_base import SerialDriver
from edge.kiosk.scanner.codec import CR, DEFAULT_GAP, TRIGGER_OFF, TRIGGER_ON, ScanDecoder, ScannedCode
from edge.kiosk.serial_port import LinkConfig
from edge.kiosk.trace import redact_scanner

log = logging.getLogger(__name__)


class Scanner(SerialDriver[ScannedCode]):
    """A scanner has no status query: it is online while its port is open."""

    kind = "scanner"
    redactor = staticmethod(redact_scanner)
    initial_media = MediaState.NOT_APPLICABLE

    def __init__(self, link: LinkConfig, *, terminator: bytes = CR, gap: float | None = DEFAULT_GAP) -> None:
        super().__init__(link, poll_interval=3600.0)
        self._decoder = ScanDecoder(terminator, gap)
        self._flush_task: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[ScannedCode], None]] = []

    def on_code(self, listener: Callable[[ScannedCode], None]) -> Callable[[], None]:
        """Unsolicited codes (presentation mode, or outside scan()). The data is secret: never log it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _deliver(self, codes: list[ScannedCode]) -> None:
        for code in codes:
            log.debug("scanned %r", code)  # repr shows only the length
            if self._lock.locked():
                self._inbox.put_nowait(code)
            for listener in list(self._listeners):
                listener(code)

    def _on_bytes(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        self._deliver(self._decoder.feed(data, loop.time()))
        deadline = self._decoder.deadline()
        if deadline is not None and (self._flush_task is None or self._flush_task.done()):
            self._flush_task = loop.create_task(self._flush_later(), name="kiosk.scanner.flush")

    async def _flush_later(self) -> None:
        loop = asyncio.get_running_loop()
        while (deadline := self._decoder.deadline()) is not None:
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            self._deliver(self._decoder.poll(loop.time()))

    def _reset_codec(self) -> None:
        self._decoder = ScanDecoder(self._decoder.terminator, self._decoder.gap)

    async def _poll(self) -> None:
        self._set_state(DeviceState.ONLINE, media=MediaState.NOT_APPLICABLE)

    async def stop(self) -> None:
        await cancel_task(self._flush_task)
        await super().stop()

    def scan(self, timeout: float = 30.0) -> Operation[ScannedCode]:
        """Trigger, wait for one code, stop the trigger (also on cancel and timeout)."""

        async def body(op: Operation[ScannedCode]) -> ScannedCode:
            self._drain_inbox()
            await self.link.write(TRIGGER_ON)
            op.emit("scanning")
            try:
                async with asyncio.timeout(timeout):
                    code = await self._inbox.get()
            except TimeoutError as exc:
                raise OperationFailed(Completion.TIMEOUT, "no code scanned") from exc
            finally:
                if self.link.connected:
                    await asyncio.shield(self.link.write(TRIGGER_OFF))
            if not code.data:
                raise OperationFailed(Completion.INVALID_DATA, "empty code")
            return code

        return self._start("scan", body)
