"""Payment terminal driver (ECR link) with the never-charge-twice rules built in.

Rules enforced here, not left to callers:
- every sale carries the caller's reference (journalled by the caller before calling sale());
- a reference is sent at most once per driver: a second sale() with it is refused;
- a sale frame is resent only after an explicit NAK (the terminal rejected it). After silence, a timeout,
  a reconnect or a terminal reboot the driver asks for the last transaction (G) and reports
  approved / declined / unknown with the evidence.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from edge.kiosk.device import Completion, DeviceState, MediaState, Operation, OperationFailed
from edge.kiosk.driver_base import SerialDriver
from edge.kiosk.payment import ecr
from edge.kiosk.payment.ecr import Code, ResultCode, SimpleRequest, TransactionResult
from edge.kiosk.serial_port import LinkConfig, NotConnected
from edge.kiosk.trace import redact_payment

log = logging.getLogger(__name__)


class Verdict(enum.Enum):
    APPROVED = "approved"
    DECLINED = "declined"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class SaleOutcome:
    verdict: Verdict
    reference: str
    amount_cents: int
    evidence: str
    result: TransactionResult | None = None
    recovered: bool = False  # True when the verdict came from a last-transaction query


@dataclass(frozen=True, slots=True)
class PaymentOptions:
    terminal_id: str = "00000001"
    ecr_id: str = "KIOSK001"
    lrc: ecr.LrcVariant = ecr.LrcVariant.SEEDED_7F
    framed_ack: bool = True
    ack_timeout: float = ecr.ACK_TIMEOUT
    tries: int = ecr.MAX_TRIES
    sale_timeout: float = ecr.SALE_TIMEOUT
    query_timeout: float = 5.0
    reconnect_wait: float = 30.0


class _NoAck(Exception):
    pass


class _Refused(Exception):
    """Every try was NAKed: the terminal never accepted the frame."""


class PaymentTerminal(SerialDriver[ecr.Event]):
    kind = "payment"
    redactor = staticmethod(redact_payment)
    initial_media = MediaState.NOT_APPLICABLE

    def __init__(self, link: LinkConfig, options: PaymentOptions | None = None, *, poll_interval: float = 10.0):
        super().__init__(link, poll_interval=poll_interval)
        self.options = options or PaymentOptions()
        self._decoder = ecr.FrameDecoder(self.options.lrc)
        self._used_refs: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._lost_during_op = False
        self._stash: deque[ecr.Event] = deque()  # events that arrived while waiting for an ACK

    # -- link ------------------------------------------------------------------------------------------
    def _on_bytes(self, data: bytes) -> None:
        for ev in self._decoder.feed(data):
            if isinstance(ev, ecr.Message):
                try:
                    ecr.decode_message(ev.payload, from_terminal=True)
                except ecr.MessageError:
                    self._control(ecr.NAK)
                    continue
                self._control(ecr.ACK)
            elif isinstance(ev, ecr.BadFrame):
                self._control(ecr.NAK)
                continue
            self._inbox.put_nowait(ev)

    def _on_link_state(self, connected: bool) -> None:
        if not connected and self._lock.locked():
            self._lost_during_op = True
        super()._on_link_state(connected)

    def _control(self, byte: int) -> None:
        frame = ecr.encode_control(byte, self.options.lrc, self.options.framed_ack)
        task = asyncio.get_running_loop().create_task(self._write_quiet(frame), name="kiosk.payment.ack")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write_quiet(self, data: bytes) -> None:
        with contextlib.suppress(NotConnected):
            await self.link.write(data)

    def _reset_codec(self) -> None:
        self._decoder.reset()

    async def _send(self, msg: ecr.AnyMessage, *, resend_on_silence: bool) -> None:
        """Send and wait for ACK; resend on NAK, and on silence only for idempotent messages."""
        frame = ecr.encode_frame(ecr.encode_message(msg), self.options.lrc)
        silent = False
        for _ in range(self.options.tries):
            self._drain_inbox()  # a stale or duplicated ACK must not acknowledge this frame
            self._stash.clear()
            await self.link.write(frame)
            silent = False
            try:
                async with asyncio.timeout(self.options.ack_timeout):
                    while True:
                        ev = await self._inbox.get()
                        if isinstance(ev, ecr.Ack):
                            return
                        if isinstance(ev, ecr.Nak):
                            break
                        self._stash.append(ev)  # e.g. the result itself, when our ACK was lost
            except TimeoutError:
                if not resend_on_silence:
                    raise _NoAck from None
                silent = True
        if silent:
            raise TimeoutError(f"no ACK for {type(msg).__name__} after {self.options.tries} tries")
        raise _Refused(f"terminal refused {type(msg).__name__} {self.options.tries}x")

    async def _wait_message(self, limit: float, op: Operation[Any] | None = None) -> ecr.AnyMessage:
        async with asyncio.timeout(limit):
            while True:
                ev = self._stash.popleft() if self._stash else await self._inbox.get()
                if isinstance(ev, ecr.Progress) and op is not None:
                    op.emit("progress", ev.text.strip())
                elif isinstance(ev, ecr.Message):
                    return ecr.decode_message(ev.payload, from_terminal=True)

    async def _request(self, code: Code, stan: str = "") -> ecr.AnyMessage:
        try:
            await self._send(SimpleRequest(self.options.terminal_id, code, stan), resend_on_silence=True)
        except _Refused as exc:
            raise OperationFailed(Completion.HARDWARE_ERROR, str(exc)) from exc
        return await self._wait_message(self.options.query_timeout)

    async def _poll(self) -> None:
        reply = await self._request(Code.STATUS)
        if isinstance(reply, ecr.StatusReply):
            self._set_state(DeviceState.ONLINE if reply.ready else DeviceState.OFFLINE, reply.detail)

    # -- operations ------------------------------------------------------------------------------------
    def sale(self, amount_cents: int, reference: str) -> Operation[SaleOutcome]:
        async def body(op: Operation[SaleOutcome]) -> SaleOutcome:
            if reference in self._used_refs:
                raise OperationFailed(Completion.USER_ERROR, "reference already sent; query the last transaction")
            if not 0 < amount_cents < 10**8 or not 0 < len(reference) <= 16:
                raise OperationFailed(Completion.USER_ERROR, "amount or reference out of range")
            msg = ecr.PaymentRequest(self.options.terminal_id, self.options.ecr_id, amount_cents, reference)
            self._lost_during_op = False
            op.cancellable = False  # from here the terminal may act on it: cancel cannot undo a charge
            self._used_refs.add(reference)
            log.info("sale %s: %d cents sent", reference, amount_cents)
            try:
                try:
                    await self._send(msg, resend_on_silence=False)
                except _NoAck:
                    op.emit("no_ack", "sale frame not acknowledged; waiting for a result, will not resend")
                except _Refused as exc:
                    evidence = f"{exc}: the terminal never accepted the sale, nothing charged"
                    outcome = SaleOutcome(Verdict.DECLINED, reference, amount_cents, evidence)
                    raise OperationFailed(Completion.DEVICE_NOT_READY, str(exc), outcome) from exc
                op.emit("sent")
                return await self._await_result(op, reference, amount_cents)
            except TimeoutError:
                reason, code = "no result before the sale timeout", Completion.TIMEOUT
            except NotConnected as exc:
                reason, code = f"link failure: {exc}", Completion.HARDWARE_ERROR
            if self._lost_during_op:
                reason, code = "terminal disconnected or rebooted during the sale", Completion.HARDWARE_ERROR
            op.emit("recovering", reason)
            outcome = await self._recover(
                reference, amount_cents, reason, conclusive_absence=code is Completion.TIMEOUT
            )
            raise OperationFailed(code, reason, outcome)

        return self._start("sale", body)

    async def _await_result(self, op: Operation[SaleOutcome], reference: str, amount: int) -> SaleOutcome:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.sale_timeout
        while True:
            if self._lost_during_op:
                raise NotConnected("link lost during sale")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            try:
                msg = await self._wait_message(min(remaining, 0.25), op)  # wake up to notice a lost link
            except TimeoutError:
                continue
            if isinstance(msg, TransactionResult) and msg.reference == reference:
                return _judge(msg, reference, amount, recovered=False)
            log.warning("sale %s: unexpected %s while waiting for the result", reference, type(msg).__name__)

    async def _recover(self, reference: str, amount: int, reason: str, *, conclusive_absence: bool) -> SaleOutcome:
        """Ask the terminal for its last transaction; never resend the sale."""
        try:
            await self.link.wait_connected(self.options.reconnect_wait)
        except TimeoutError:
            return SaleOutcome(Verdict.UNKNOWN, reference, amount, f"{reason}; terminal unreachable", recovered=True)
        last_error = ""
        for _ in range(self.options.tries):
            try:
                reply = await self._request(Code.GET_LAST)
            except (TimeoutError, OperationFailed, NotConnected, ecr.MessageError) as exc:
                last_error = str(exc) or type(exc).__name__
                await asyncio.sleep(0.2)
                continue
            if isinstance(reply, TransactionResult):
                if reply.reference == reference and reply.result is not ResultCode.NONE:
                    return _judge(reply, reference, amount, recovered=True)
                evidence = f"{reason}; terminal's last transaction is ref {reply.reference or '-'} stan {reply.stan}"
                # Only once the whole sale window has passed is "not the last one" proof of no charge.
                verdict = Verdict.DECLINED if conclusive_absence else Verdict.UNKNOWN
                return SaleOutcome(verdict, reference, amount, evidence + ", not ours", reply, recovered=True)
            last_error = f"unexpected reply {type(reply).__name__}"
        return SaleOutcome(
            Verdict.UNKNOWN,
            reference,
            amount,
            f"{reason}; last-transaction query failed: {last_error}",
            recovered=True,
        )

    def get_last(self) -> Operation[TransactionResult]:
        async def body(op: Operation[TransactionResult]) -> TransactionResult:
            reply = await self._request(Code.GET_LAST)
            if not isinstance(reply, TransactionResult):
                raise OperationFailed(Completion.INVALID_DATA, "unexpected reply to G")
            return reply

        return self._start("get_last", body)

    def verify(self, reference: str, amount_cents: int) -> Operation[SaleOutcome]:
        """Re-check an UNKNOWN sale later (e.g. after the terminal settled); sends only G."""

        async def body(op: Operation[SaleOutcome]) -> SaleOutcome:
            return await self._recover(reference, amount_cents, "verification", conclusive_absence=True)

        return self._start("verify", body)

    def reverse_last(self, stan: str) -> Operation[TransactionResult]:
        async def body(op: Operation[TransactionResult]) -> TransactionResult:
            # A reversal is not idempotent either: silence after sending is reported, never retried.
            try:
                await self._send(SimpleRequest(self.options.terminal_id, Code.REVERSE, stan), resend_on_silence=False)
            except _NoAck as exc:
                raise OperationFailed(Completion.TIMEOUT, "reversal not acknowledged; check with get_last") from exc
            except _Refused as exc:
                raise OperationFailed(Completion.HARDWARE_ERROR, str(exc)) from exc
            reply = await self._wait_message(self.options.sale_timeout)
            if not isinstance(reply, TransactionResult):
                raise OperationFailed(Completion.INVALID_DATA, "unexpected reply to S")
            return reply

        return self._start("reverse_last", body)

    def totals(self) -> Operation[ecr.TotalsReply]:
        async def body(op: Operation[ecr.TotalsReply]) -> ecr.TotalsReply:
            reply = await self._request(Code.TOTALS)
            if not isinstance(reply, ecr.TotalsReply):
                raise OperationFailed(Completion.INVALID_DATA, "unexpected reply to T")
            return reply

        return self._start("totals", body)


def _judge(msg: TransactionResult, reference: str, amount: int, *, recovered: bool) -> SaleOutcome:
    if msg.amount_cents != amount:
        return SaleOutcome(
            Verdict.UNKNOWN,
            reference,
            amount,
            f"result for ref {reference} has amount {msg.amount_cents}, expected {amount}",
            msg,
            recovered,
        )
    verdict = Verdict.APPROVED if msg.result is ResultCode.APPROVED else Verdict.DECLINED
    source = "last-transaction query" if recovered else "result message"
    evidence = f"{source}: ref {reference} stan {msg.stan} auth {msg.auth_code or '-'} at {msg.timestamp}"
    return SaleOutcome(verdict, reference, amount, evidence, msg, recovered)
