"""Simulated GA 467 resident ID card reader on a pty."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from devices.simulators.kiosk.base import PtySimulator
from devices.simulators.kiosk.cards import SAMPLE_CARDS, sample_photo
from devices.simulators.kiosk.pty_link import LINE_FAULTS, PtyDevice
from edge.kiosk.idcard import codec
from edge.kiosk.idcard.codec import Command, Frame, Status
from edge.kiosk.idcard.record import encode_text_block

log = logging.getLogger(__name__)

SAM_ID = bytes.fromhex("0501000000000000123456789abcdef0")


class IdCardReaderSim(PtySimulator):
    """Answers find/select/read like a reader; faults are flipped with set_fault() or the attributes."""

    FAULTS: tuple[str, ...] = (
        "card",  # value: sample card key, or "" to remove the card
        "remove_mid_read",  # next read fails (SW 41) and the card is gone
        "checksum_errors",  # value: number of next replies with a corrupted CHK
        "sam_failure",  # bool: SAM status answers 60 (self-test failed)
        *LINE_FAULTS,  # garbage (junk before the next reply), split, silent, unplug, replug
    )

    def __init__(self, link_dir: Path, *, baud: int = 115200, name: str = "idcard", read_delay: float = 0.0) -> None:
        super().__init__()
        self.port = PtyDevice(name, link_dir, baud)
        self.port.on_data = self._on_data
        self._decoder = codec.FrameDecoder(max_len=3)
        self.card: str = ""
        self.remove_mid_read = False
        self.checksum_errors = 0
        self.sam_failure = False
        self.read_delay = read_delay  # time a real reader spends talking to the card
        self.commands: list[Command] = []

    def insert(self, key: str = "standard") -> None:
        if key not in SAMPLE_CARDS:
            raise KeyError(f"unknown sample card {key!r}; have {sorted(SAMPLE_CARDS)}")
        self.card = key

    def remove(self) -> None:
        self.card = ""

    def set_device_fault(self, fault: str, value: Any) -> None:
        if fault == "card":
            self.insert(str(value)) if value else self.remove()
        elif fault == "remove_mid_read":
            self.remove_mid_read = bool(value)
        elif fault == "checksum_errors":
            self.checksum_errors = int(value)
        elif fault == "sam_failure":
            self.sam_failure = bool(value)
        else:
            super().set_device_fault(fault, value)

    def _on_data(self, data: bytes) -> None:
        for item in self._decoder.feed(data):
            if not isinstance(item, Frame):
                self._reply(codec.encode_response(Status.CHECKSUM_ERROR))
                continue
            command = item.command
            if command is None:
                self._reply(codec.encode_response(Status.COMMAND_ERROR))
                continue
            self.commands.append(command)
            if command in (Command.READ_TEXT_PHOTO, Command.READ_TEXT_PHOTO_FP) and self.read_delay:
                self._spawn(self._delayed(command), "sim.idcard.read")
            else:
                self._reply(self._answer(command))

    async def _delayed(self, command: Command) -> None:
        await asyncio.sleep(self.read_delay)
        self._reply(self._answer(command))

    def _answer(self, command: Command) -> bytes:
        if command is Command.SAM_STATUS:
            return codec.encode_response(Status.SAM_SELF_TEST_FAILED if self.sam_failure else Status.SUCCESS)
        if command is Command.RESET_SAM:
            return codec.encode_response(Status.SUCCESS)
        if command is Command.READ_SAM_ID:
            return codec.encode_response(Status.SUCCESS, SAM_ID)
        if command is Command.FIND_CARD:
            if not self.card:
                return codec.encode_response(Status.NO_CARD)
            return codec.encode_response(Status.FIND_OK, bytes(4))
        if command is Command.SELECT_CARD:
            if not self.card:
                return codec.encode_response(Status.SELECT_FAILED)
            return codec.encode_response(Status.SUCCESS, bytes(8))
        if not self.card:
            return codec.encode_response(Status.READ_FAILED)
        if self.remove_mid_read:
            self.remove_mid_read = False
            self.card = ""
            return codec.encode_response(Status.READ_FAILED)
        text = encode_text_block(SAMPLE_CARDS[self.card])
        if command is Command.READ_ADDRESS:
            return codec.encode_response(Status.NO_SUCH_ITEM)
        fingerprint = b"" if command is Command.READ_TEXT_PHOTO_FP else None
        return codec.encode_response(Status.SUCCESS, codec.encode_read_reply(text, sample_photo(), fingerprint))

    def _reply(self, frame: bytes) -> None:
        if self.checksum_errors:
            self.checksum_errors -= 1
            frame = frame[:-1] + bytes([frame[-1] ^ 0x5A])
        self.port.send(frame)
