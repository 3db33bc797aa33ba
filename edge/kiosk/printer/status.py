"""ESC/POS status decoding (sans-I/O): DLE EOT 1-4 replies and the 4-byte ASB block."""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, replace


class PaperState(enum.Enum):
    FULL = "full"
    LOW = "low"
    OUT = "out"
    JAMMED = "jammed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PrinterHealth:
    """What the printer last told us; fields start unknown-as-fine and are filled by replies."""

    offline: bool = False
    cover_open: bool = False
    paper_end_stop: bool = False
    error: bool = False
    cutter_error: bool = False
    unrecoverable: bool = False
    auto_recoverable: bool = False
    paper: PaperState = PaperState.UNKNOWN

    @property
    def hardware_fault(self) -> bool:
        return self.cutter_error or self.unrecoverable

    @property
    def ready(self) -> bool:
        return not (self.offline or self.cover_open or self.hardware_fault or self.paper in (PaperState.OUT,))


def dle_eot_valid(byte: int) -> bool:
    """Fixed pattern: bit1 = bit4 = 1, bit0 = bit7 = 0."""
    return byte & 0x93 == 0x12


def apply_dle_eot(health: PrinterHealth, n: int, byte: int) -> PrinterHealth:
    """Fold one DLE EOT n reply byte into the health snapshot."""
    if not dle_eot_valid(byte):
        raise ValueError(f"not a DLE EOT reply: {byte:#04x}")
    if n == 1:
        return replace(health, offline=bool(byte & 0x08))
    if n == 2:
        return replace(
            health,
            cover_open=bool(byte & 0x04),
            paper_end_stop=bool(byte & 0x20),
            error=bool(byte & 0x40),
        )
    if n == 3:
        return replace(
            health,
            cutter_error=bool(byte & 0x08),
            unrecoverable=bool(byte & 0x20),
            auto_recoverable=bool(byte & 0x40),
        )
    if n == 4:
        return replace(health, paper=_paper(near_end=bool(byte & 0x0C), out=bool(byte & 0x60)))
    raise ValueError("DLE EOT n must be 1..4")


def _paper(*, near_end: bool, out: bool) -> PaperState:
    if out:
        return PaperState.OUT
    return PaperState.LOW if near_end else PaperState.FULL


def apply_asb(health: PrinterHealth, block: bytes) -> PrinterHealth:
    """Fold an automatic-status-back block (4 bytes) into the snapshot."""
    if len(block) != 4 or block[0] & 0x93 != 0x10:
        raise ValueError("not an ASB block")
    b1, b2, b3 = block[0], block[1], block[2]
    return replace(
        health,
        offline=bool(b1 & 0x08),
        cover_open=bool(b1 & 0x20),
        cutter_error=bool(b2 & 0x08),
        unrecoverable=bool(b2 & 0x20),
        auto_recoverable=bool(b2 & 0x40),
        error=bool(b2 & 0x68),
        paper_end_stop=bool(b3 & 0x0C),
        paper=_paper(near_end=bool(b3 & 0x03), out=bool(b3 & 0x0C)),
    )


def encode_dle_eot(health: PrinterHealth, n: int) -> int:
    """Reply byte a printer with this health sends for DLE EOT n (simulator side)."""
    byte = 0x12
    if n == 1:
        byte |= 0x08 if health.offline else 0
    elif n == 2:
        byte |= (0x04 if health.cover_open else 0) | (0x20 if health.paper_end_stop else 0)
        byte |= 0x40 if health.error else 0
    elif n == 3:
        byte |= (0x08 if health.cutter_error else 0) | (0x20 if health.unrecoverable else 0)
        byte |= 0x40 if health.auto_recoverable else 0
    elif n == 4:
        byte |= 0x0C if health.paper is PaperState.LOW else 0
        byte |= 0x60 if health.paper is PaperState.OUT else 0
    else:
        raise ValueError("DLE EOT n must be 1..4")
    return byte


def encode_asb(health: PrinterHealth) -> bytes:
    b1 = 0x10 | (0x08 if health.offline else 0) | (0x20 if health.cover_open else 0)
    b2 = (0x08 if health.cutter_error else 0) | (0x20 if health.unrecoverable else 0)
    b2 |= 0x40 if health.auto_recoverable else 0
    b3 = 0x0C if health.paper is PaperState.OUT else 0
    b3 |= 0x03 if health.paper in (PaperState.LOW, PaperState.OUT) else 0
    return bytes([b1, b2, b3, 0x00])


@dataclass(frozen=True, slots=True)
class StatusReply:
    n: int
    byte: int


@dataclass(frozen=True, slots=True)
class AsbBlock:
    block: bytes


class StatusDecoder:
    """Splits the printer->host stream into DLE EOT replies (matched to requests in order) and ASB blocks.

    Bits 0-1 of a first byte tell them apart: 10 = DLE EOT reply, 00 (+ bit4) = ASB block start.
    """

    def __init__(self) -> None:
        self._pending: deque[int] = deque()
        self._asb = bytearray()
        self.garbage_bytes = 0

    def expect(self, n: int) -> None:
        """Record that DLE EOT n was sent so its reply can be attributed."""
        self._pending.append(n)

    def clear(self) -> None:
        self._pending.clear()
        self._asb.clear()

    @property
    def outstanding(self) -> int:
        return len(self._pending)

    def feed(self, data: bytes) -> list[StatusReply | AsbBlock]:
        out: list[StatusReply | AsbBlock] = []
        for byte in data:
            if self._asb:
                self._asb.append(byte)
                if len(self._asb) == 4:
                    out.append(AsbBlock(bytes(self._asb)))
                    self._asb.clear()
            elif byte & 0x93 == 0x12 and self._pending:
                out.append(StatusReply(self._pending.popleft(), byte))
            elif byte & 0x93 == 0x10:
                self._asb.append(byte)
            else:
                self.garbage_bytes += 1
        return out
