"""Traffic-trace redactors: what of a serial chunk may appear in a debug log.

Chunks do not align with frames, so each peripheral gets a conservative policy: control/status bytes are
shown, anything that can carry personal data (ID text and photo, print jobs, scanned codes, payment
messages) is reduced to its length and, at most, a fixed non-personal header.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from edge.kiosk.idcard.codec import PREAMBLE


class Direction(enum.Enum):
    TX = "tx"
    RX = "rx"


Redactor = Callable[[Direction, bytes], str]


def redact_hex(direction: Direction, data: bytes) -> str:
    """Default for unknown peripherals: length only."""
    return f"<{len(data)} bytes>"


def redact_idcard(direction: Direction, data: bytes) -> str:
    # Requests and short status replies hold no personal data; long replies show only their header
    # (preamble, LEN, SW = first 10 bytes) and continuation chunks only their length.
    if direction is Direction.TX or len(data) <= 16:
        return data.hex(" ")
    if data.startswith(PREAMBLE):
        return f"{data[:10].hex(' ')} <+{len(data) - 10} bytes withheld>"
    return f"<{len(data)} bytes withheld>"


def redact_printer(direction: Direction, data: bytes) -> str:
    if direction is Direction.RX or (len(data) == 3 and data[:2] == b"\x10\x04"):
        return data.hex(" ")
    return f"<job chunk {len(data)} bytes withheld>"


def redact_scanner(direction: Direction, data: bytes) -> str:
    if direction is Direction.TX:
        return data.hex(" ")
    return f"<{len(data)} bytes withheld>"


def redact_payment(direction: Direction, data: bytes) -> str:
    # ACK/NAK and their ECR17 trailer are safe; message bodies may hold a reference or masked PAN.
    if len(data) <= 3 and data[:1] in (b"\x06", b"\x15"):
        return data.hex(" ")
    if len(data) >= 11 and data[:1] == b"\x02":
        return f"msg code {data[10:11].decode('ascii', 'replace')!r} <{len(data)} bytes>"
    return f"<{len(data)} bytes withheld>"
