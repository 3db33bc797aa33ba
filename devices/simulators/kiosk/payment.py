"""Simulated payment terminal (ECR17-like link) on a pty, with host delay, approve/decline and reboots."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path
from typing import Any

from devices.simulators.kiosk.base import PtySimulator
from devices.simulators.kiosk.pty_link import LINE_FAULTS, PtyDevice
from edge.kiosk.payment import ecr
from edge.kiosk.payment.ecr import Code, ResultCode, TransactionResult

log = logging.getLogger(__name__)


class PaymentTerminalSim(PtySimulator):
    FAULTS: tuple[str, ...] = (
        "approve",  # bool: approve (default) or decline the next sales
        "host_delay",  # seconds the "host" takes to authorise
        "duplicate_ack",  # bool: every ACK is sent twice
        "nak_next",  # value: NAK the next n messages
        "drop_ack_next",  # value: receive the next n messages but send no ACK
        "checksum_errors",  # value: corrupt the LRC of the next n outgoing messages
        "reboot_mid_sale",  # value: "before" (sale lost) or "after" (approved, result never sent)
        *LINE_FAULTS,
    )

    def __init__(
        self,
        link_dir: Path,
        *,
        baud: int = 115200,
        name: str = "payment",
        variant: ecr.LrcVariant = ecr.LrcVariant.SEEDED_7F,
        framed_ack: bool = True,
        terminal_id: str = "00000001",
        host_delay: float = 0.05,
        reboot_time: float = 0.3,
    ) -> None:
        super().__init__()
        self.port = PtyDevice(name, link_dir, baud)
        self.port.on_data = self._on_data
        self.variant = variant
        self.framed_ack = framed_ack
        self.terminal_id = terminal_id
        self.host_delay = host_delay
        self.reboot_time = reboot_time
        self.approve = True
        self.duplicate_ack = False
        self.nak_next = 0
        self.drop_ack_next = 0
        self.checksum_errors = 0
        self.reboot_mid_sale = ""
        self.sales: list[ecr.PaymentRequest] = []  # every P ever received: tests assert no double charge
        self.last: TransactionResult | None = None
        self.approved: list[TransactionResult] = []
        self._stan = 0
        self._decoder = ecr.FrameDecoder(variant)
        self._busy: asyncio.Task[None] | None = None
        self._pending_out: bytes | None = None

    @property
    def busy(self) -> bool:
        """A sale is being authorised (the terminal answers status queries with BUSY)."""
        return self._busy is not None and not self._busy.done()

    def set_device_fault(self, fault: str, value: Any) -> None:
        if fault in ("approve", "duplicate_ack"):
            setattr(self, fault, value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes"))
        elif fault == "host_delay":
            self.host_delay = float(value)
        elif fault in ("nak_next", "drop_ack_next", "checksum_errors"):
            setattr(self, fault, int(value))
        elif fault == "reboot_mid_sale":
            self.reboot_mid_sale = "before" if value is True else str(value)
            self._decoder.reset()
        else:
            super().set_device_fault(fault, value)

    # -- wire ----------------------------------------------------------------------------------------------
    def _control(self, byte: int) -> None:
        self.port.send(ecr.encode_control(byte, self.variant, self.framed_ack))

    def _send_message(self, msg: ecr.AnyMessage) -> None:
        frame = ecr.encode_frame(ecr.encode_message(msg), self.variant)
        self._pending_out = frame  # resent on NAK
        if self.checksum_errors:
            self.checksum_errors -= 1
            frame = frame[:-1] + bytes([frame[-1] ^ 0x55])
        self.port.send(frame)

    def _on_data(self, data: bytes) -> None:
        for ev in self._decoder.feed(data):
            if isinstance(ev, ecr.BadFrame):
                self._control(ecr.NAK)
            elif isinstance(ev, ecr.Nak) and self._pending_out is not None:
                self.port.send(self._pending_out)
            elif isinstance(ev, ecr.Ack):
                self._pending_out = None
            elif isinstance(ev, ecr.Message):
                self._on_message(ev.payload)

    def _on_message(self, payload: bytes) -> None:
        if self.nak_next:
            self.nak_next -= 1
            self._control(ecr.NAK)
            return
        try:
            msg = ecr.decode_message(payload, from_terminal=False)
        except ecr.MessageError:
            self._control(ecr.NAK)
            return
        busy = self._busy is not None and not self._busy.done()
        is_status = isinstance(msg, ecr.SimpleRequest) and msg.code is Code.STATUS
        if busy and not is_status:
            self._control(ecr.NAK)  # mid-transaction the terminal takes no other work
            return
        if self.drop_ack_next:
            self.drop_ack_next -= 1
        else:
            self._control(ecr.ACK)
            if self.duplicate_ack:
                self._control(ecr.ACK)
        if isinstance(msg, ecr.PaymentRequest):
            self.sales.append(msg)
            if self._busy is None or self._busy.done():
                self._busy = self._spawn(self._sale(msg), "sim.payment.sale")
            return
        assert isinstance(msg, ecr.SimpleRequest)
        if msg.code is Code.GET_LAST:
            self._send_message(self.last or self._result(ResultCode.NONE, None, ""))
        elif msg.code is Code.STATUS:
            busy = self._busy is not None and not self._busy.done()
            self._send_message(ecr.StatusReply(self.terminal_id, not busy, "BUSY" if busy else "READY"))
        elif msg.code is Code.TOTALS:
            total = sum(r.amount_cents for r in self.approved)
            self._send_message(ecr.TotalsReply(self.terminal_id, len(self.approved), total))
        elif msg.code is Code.REVERSE:
            self._reverse(msg.stan)

    # -- behaviour -----------------------------------------------------------------------------------------
    def _result(self, code: ResultCode, req: ecr.PaymentRequest | None, stan: str) -> TransactionResult:
        now = dt.datetime.now(dt.UTC).strftime("%y%m%d%H%M%S")
        approved = code is ResultCode.APPROVED
        return TransactionResult(
            terminal_id=self.terminal_id,
            result=code,
            masked_pan="6222********0001" if req else "",
            auth_code=f"A{int(stan or 0):05d}" if approved else "",
            stan=stan or "000000",
            online_id=f"N{int(stan or 0):05d}" if req else "",
            amount_cents=req.amount_cents if req else 0,
            reference=req.reference if req else "",
            timestamp=now,
        )

    async def _sale(self, req: ecr.PaymentRequest) -> None:
        for text in ("INSERT OR TAP CARD", "ENTER PIN", "AUTHORISING"):
            self.port.send(ecr.encode_progress(text))
        reboot, self.reboot_mid_sale = self.reboot_mid_sale, ""
        if reboot == "before":
            await self._reboot()  # the sale dies with the reboot: nothing charged
            return
        await asyncio.sleep(self.host_delay)
        self._stan += 1
        result = self._result(ResultCode.APPROVED if self.approve else ResultCode.DECLINED, req, f"{self._stan:06d}")
        self.last = result
        if result.result is ResultCode.APPROVED:
            self.approved.append(result)
        if reboot == "after":
            await self._reboot()  # charged, but the ECR never hears the result
            return
        self._send_message(result)

    async def _reboot(self) -> None:
        # USB terminals re-enumerate on reboot: the port disappears, then comes back.
        await self.port.drain()
        self.port.unplug()
        await asyncio.sleep(self.reboot_time)
        self._decoder.reset()
        self._pending_out = None
        self.port.plug()

    def _reverse(self, stan: str) -> None:
        last = self.last
        if last is None or last.stan != stan or last.result is not ResultCode.APPROVED:
            self._send_message(self._result(ResultCode.DECLINED, None, stan))
            return
        self.approved = [r for r in self.approved if r.stan != stan]
        self._send_message(last)
