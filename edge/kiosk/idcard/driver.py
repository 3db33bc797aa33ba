"""Resident ID card reader driver: wait for a card, select, read text + photo, decode."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from edge.kiosk.device import Completion, DeviceState, MediaState, Operation, OperationFailed
from edge.kiosk.driver_base import SerialDriver
from edge.kiosk.idcard import codec
from edge.kiosk.idcard.codec import Command, Frame, FrameError, Status
from edge.kiosk.idcard.record import IdCardRecord, InvalidCardData, decode_text_block
from edge.kiosk.serial_port import LinkConfig
from edge.kiosk.trace import redact_idcard

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CardRead:
    record: IdCardRecord
    photo: bytes = field(repr=False)  # WLT-compressed; the session drops it when it ends


class _BadFrame(Exception):
    pass


class IdCardReader(SerialDriver[Frame | FrameError]):
    kind = "idcard"
    redactor = staticmethod(redact_idcard)
    initial_media = MediaState.UNKNOWN

    def __init__(
        self,
        link: LinkConfig,
        *,
        poll_interval: float = 2.0,
        find_interval: float = 0.2,
        retries: int = 2,
        timeout_scale: float = 1.0,
    ) -> None:
        super().__init__(link, poll_interval=poll_interval)
        self._decoder = codec.FrameDecoder()
        self.find_interval = find_interval
        self.retries = retries
        # Public timeouts assume 115200 baud; slower links get proportionally longer.
        self.timeout_scale = timeout_scale * max(1.0, 115200 / link.baudrate)

    def _on_bytes(self, data: bytes) -> None:
        for item in self._decoder.feed(data):
            self._inbox.put_nowait(item)

    def _reset_codec(self) -> None:
        self._decoder.reset()

    async def command(self, command: Command) -> Frame:
        """Send one command and return its checked reply; bad frames and silence are retried.

        Call only while holding the device lock (inside an operation); use exchange() from outside.
        """
        timeout = codec.TIMEOUTS[command] * self.timeout_scale
        last: str = ""
        for _ in range(1 + self.retries):
            self._drain_inbox()
            self._decoder.reset()
            await self.link.write(codec.encode_request(command))
            try:
                return await self._reply(timeout)
            except TimeoutError:
                last = "timeout"
                if timeout > 0.5:  # long reads are not retried on silence: the card is likely gone
                    break
            except _BadFrame as exc:
                last = str(exc)
                await asyncio.sleep(0.02)  # let the rest of a broken reply pass before retrying
        if last == "timeout":
            raise TimeoutError(f"{command.name}: no reply")
        raise OperationFailed(Completion.INVALID_DATA, f"{command.name}: {last}")

    async def _reply(self, limit: float) -> Frame:
        async with asyncio.timeout(limit):
            item = await self._inbox.get()
        if isinstance(item, FrameError):
            raise _BadFrame(f"bad reply frame ({item.reason})")
        return item

    async def _poll(self) -> None:
        reply = await self.command(Command.SAM_STATUS)
        if reply.status is not Status.SUCCESS:
            self._set_state(DeviceState.HARDWARE_ERROR, f"SAM status {reply.sw3:#04x}")
            return
        found = await self.command(Command.FIND_CARD)
        media = MediaState.CARD_PRESENT if found.status is Status.FIND_OK else MediaState.CARD_ABSENT
        self._set_state(DeviceState.ONLINE, media=media)

    def exchange(self, command: Command) -> Operation[Frame]:
        """One raw command under the device lock (diagnostics and benchmarks); the reply is not decoded."""

        async def body(op: Operation[Frame]) -> Frame:
            return await self.command(command)

        return self._start(f"exchange.{command.name.lower()}", body)

    def read_sam_id(self) -> Operation[bytes]:
        async def body(op: Operation[bytes]) -> bytes:
            reply = await self.command(Command.READ_SAM_ID)
            if reply.status is not Status.SUCCESS:
                raise OperationFailed(Completion.HARDWARE_ERROR, f"SAM ID status {reply.sw3:#04x}")
            return reply.data

        return self._start("read_sam_id", body)

    def reset_sam(self) -> Operation[None]:
        async def body(op: Operation[None]) -> None:
            reply = await self.command(Command.RESET_SAM)
            if reply.status is not Status.SUCCESS:
                raise OperationFailed(Completion.HARDWARE_ERROR, f"reset status {reply.sw3:#04x}")

        return self._start("reset_sam", body)

    def read_card(self, wait: float = 30.0) -> Operation[CardRead]:
        """Wait up to ``wait`` s for a card, then select and read it. Events: waiting, found, reading."""

        async def body(op: Operation[CardRead]) -> CardRead:
            async with asyncio.timeout(wait):
                await self._wait_for_card(op)
            for attempt in range(2):
                try:
                    return await self._select_and_read(op)
                except OperationFailed as exc:
                    # A card moved during the read: the citizen re-presents it; one fresh attempt.
                    if attempt or exc.completion is not Completion.USER_ERROR:
                        raise
                    op.emit("retry", str(exc))
                    try:
                        async with asyncio.timeout(wait):
                            await self._wait_for_card(op)
                    except TimeoutError:
                        raise exc from None
            raise AssertionError("unreachable")

        return self._start("read_card", body)

    async def _wait_for_card(self, op: Operation[CardRead]) -> None:
        op.emit("waiting_for_card")
        while True:
            found = await self.command(Command.FIND_CARD)
            if found.status is Status.FIND_OK:
                self._set_state(DeviceState.BUSY, op.name, MediaState.CARD_PRESENT)
                op.emit("card_found")
                return
            if found.status is not Status.NO_CARD:
                raise OperationFailed(Completion.HARDWARE_ERROR, f"find card status {found.sw3:#04x}")
            self._set_state(DeviceState.BUSY, op.name, MediaState.CARD_ABSENT)
            await asyncio.sleep(self.find_interval)

    async def _select_and_read(self, op: Operation[CardRead]) -> CardRead:
        selected = await self.command(Command.SELECT_CARD)
        if selected.status is not Status.SUCCESS:
            raise OperationFailed(Completion.USER_ERROR, "card could not be selected (moved or removed)")
        op.emit("reading")
        try:
            reply = await self.command(Command.READ_TEXT_PHOTO)
        except TimeoutError as exc:
            raise OperationFailed(Completion.USER_ERROR, "card removed during read") from exc
        except OperationFailed as exc:
            raise OperationFailed(Completion.USER_ERROR, f"card read failed: {exc}") from exc
        if reply.status is not Status.SUCCESS:
            raise OperationFailed(Completion.USER_ERROR, f"card read failed, status {reply.sw3:#04x}")
        try:
            parts = codec.parse_read_reply(reply.data)
            record = decode_text_block(parts.text)
        except (ValueError, InvalidCardData) as exc:
            raise OperationFailed(Completion.INVALID_DATA, f"card data invalid: {exc}") from exc
        log.info("ID card read: %s (%s)", record.masked_id, record.card_type.value)
        return CardRead(record, parts.photo)
