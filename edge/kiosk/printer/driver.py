"""ESC/POS receipt printer driver: status before and after every job, ASB pushes, no automatic re-send."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from edge.kiosk.device import Completion, DeviceState, MediaState, Operation, OperationFailed
from edge.kiosk.driver_base import SerialDriver
from edge.kiosk.printer import escpos
from edge.kiosk.printer.status import (
    AsbBlock,
    PaperState,
    PrinterHealth,
    StatusDecoder,
    StatusReply,
    apply_asb,
    apply_dle_eot,
)
from edge.kiosk.serial_port import LinkConfig
from edge.kiosk.trace import redact_printer

log = logging.getLogger(__name__)

STATUS_TIMEOUT = 1.0
_MEDIA = {
    PaperState.FULL: MediaState.PAPER_FULL,
    PaperState.LOW: MediaState.PAPER_LOW,
    PaperState.OUT: MediaState.PAPER_OUT,
    PaperState.JAMMED: MediaState.PAPER_JAMMED,
    PaperState.UNKNOWN: MediaState.UNKNOWN,
}


@dataclass(frozen=True, slots=True)
class PrintReceipt:
    job_id: str
    size: int
    seconds: float
    paper: PaperState


def describe(health: PrinterHealth) -> tuple[DeviceState, MediaState, str]:
    """Map the printer's own bits onto the device/media model."""
    media = MediaState.PAPER_JAMMED if health.cutter_error else _MEDIA[health.paper]
    if health.hardware_fault:
        what = "autocutter error" if health.cutter_error else "unrecoverable error"
        return DeviceState.HARDWARE_ERROR, media, what
    if health.cover_open:
        return DeviceState.OFFLINE, media, "cover open"
    if health.paper is PaperState.OUT:
        return DeviceState.OFFLINE, media, "paper out"
    if health.offline:
        return DeviceState.OFFLINE, media, "printer offline"
    return DeviceState.ONLINE, media, "paper near end" if health.paper is PaperState.LOW else ""


class ReceiptPrinter(SerialDriver[StatusReply]):
    kind = "printer"
    redactor = staticmethod(redact_printer)

    def __init__(
        self,
        link: LinkConfig,
        *,
        poll_interval: float = 5.0,
        use_asb: bool = True,
        status_timeout: float = STATUS_TIMEOUT,
    ) -> None:
        super().__init__(link, poll_interval=poll_interval)
        self.status_timeout = status_timeout
        self._decoder = StatusDecoder()
        self.health = PrinterHealth()
        self.use_asb = use_asb
        self._asb_on = False
        self._submitted: set[str] = set()
        self._in_job = False

    def _on_bytes(self, data: bytes) -> None:
        for item in self._decoder.feed(data):
            if isinstance(item, AsbBlock):
                self.health = apply_asb(self.health, item.block)
                if not self._in_job:  # during a job the post-cut check decides
                    self._publish()
            else:
                self._inbox.put_nowait(item)

    def _reset_codec(self) -> None:
        self._decoder.clear()
        self._asb_on = False

    def _publish(self) -> None:
        device, media, detail = describe(self.health)
        self._set_state(device, detail, media)

    async def query_status(self, limit: float | None = None) -> PrinterHealth:
        """DLE EOT 1..4 in one write; replies are attributed in request order."""
        self._drain_inbox()
        self._decoder.clear()
        for n in (1, 2, 3, 4):
            self._decoder.expect(n)
        await self.link.write(b"".join(escpos.status_request(n) for n in (1, 2, 3, 4)))
        health = self.health
        async with asyncio.timeout(limit or self.status_timeout):
            for _ in range(4):
                reply = await self._inbox.get()
                health = apply_dle_eot(health, reply.n, reply.byte)
        self.health = health
        return health

    async def _poll(self) -> None:
        if self.use_asb and not self._asb_on:
            await self.link.write(escpos.asb_enable())
            self._asb_on = True
        await self.query_status()
        self._publish()

    def print_job(self, job: bytes | escpos.Document, job_id: str, *, reprint: bool = False) -> Operation[PrintReceipt]:
        """Print one job. A job id is printed at most once unless ``reprint`` is explicit."""
        data = job.bytes() if isinstance(job, escpos.Document) else job

        async def body(op: Operation[PrintReceipt]) -> PrintReceipt:
            if job_id in self._submitted and not reprint:
                raise OperationFailed(Completion.USER_ERROR, f"job {job_id} was already sent; reprint is explicit")
            before = await self.query_status()
            self._publish()
            if not before.ready:
                state, _, detail = describe(before)
                code = Completion.HARDWARE_ERROR if state is DeviceState.HARDWARE_ERROR else Completion.DEVICE_NOT_READY
                raise OperationFailed(code, f"printer not ready: {detail}")
            if before.paper is PaperState.LOW:
                op.emit("paper_low")
            # Past this point the job may be on paper: no cancel, and never an automatic re-send.
            op.cancellable = False
            self._submitted.add(job_id)
            self._in_job = True
            started = time.monotonic()
            try:
                op.emit("sending", f"{len(data)} bytes")
                await self.link.write(data)
                # The printer answers DLE EOT only after it has processed the bytes before it (incl. the cut).
                wire = len(data) * 10 / self.link.config.baudrate
                after = await self.query_status(limit=self.status_timeout + 3 * wire)
            except TimeoutError as exc:
                raise OperationFailed(
                    Completion.TIMEOUT, f"job {job_id}: no status after the cut; not re-sent"
                ) from exc
            finally:
                self._in_job = False
                self._publish()
            if not after.ready or after.error:
                _, _, detail = describe(after)
                raise OperationFailed(
                    Completion.HARDWARE_ERROR,
                    f"job {job_id} not confirmed printed ({detail or 'error'}); not re-sent",
                )
            op.emit("printed")
            log.info("print job %s done: %d bytes in %.3f s", job_id, len(data), time.monotonic() - started)
            return PrintReceipt(job_id, len(data), time.monotonic() - started, after.paper)

        return self._start("print", body)

    def status_check(self) -> Operation[PrinterHealth]:
        async def body(op: Operation[PrinterHealth]) -> PrinterHealth:
            health = await self.query_status()
            self._publish()
            return health

        return self._start("status", body)
