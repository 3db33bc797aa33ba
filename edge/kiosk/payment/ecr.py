"""ECR link to a payment terminal (ECR17-like), sans-I/O: STX/ETX/LRC framing, ACK/NAK, progress, messages.

Message layout (ASCII): terminal id (8) + '0' + code (1) + fields. Field widths below are this project's
ECR17-like profile; the reference field carries the caller's idempotency key so a result can be matched.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

STX, ETX, SOH, EOT, ACK, NAK = 0x02, 0x03, 0x01, 0x04, 0x06, 0x15
PROGRESS_LEN = 20
MAX_MESSAGE = 512

ACK_TIMEOUT = 3.0  # no ACK within ~3 s: the frame may be resent (never a sale: see the driver)
MAX_TRIES = 3
HOST_TIMEOUT = 45.0
SALE_TIMEOUT = 130.0


class LrcVariant(enum.Enum):
    PLAIN = 0x00  # Concert: XOR of message + ETX
    SEEDED_7F = 0x7F  # ECR17: XOR seeded with 0x7F


def lrc(data: bytes, variant: LrcVariant) -> int:
    value = variant.value
    for b in data:
        value ^= b
    return value


def encode_frame(message: bytes, variant: LrcVariant) -> bytes:
    body = message + bytes([ETX])
    return bytes([STX]) + body + bytes([lrc(body, variant)])


def encode_control(byte: int, variant: LrcVariant, framed: bool) -> bytes:
    """ACK/NAK: bare (Concert) or `06 03 LRC` (ECR17)."""
    if not framed:
        return bytes([byte])
    body = bytes([byte, ETX])
    return body + bytes([lrc(body, variant)])


def encode_progress(text: str) -> bytes:
    return bytes([SOH]) + text[:PROGRESS_LEN].ljust(PROGRESS_LEN).encode("ascii", "replace") + bytes([EOT])


@dataclass(frozen=True, slots=True)
class Ack:
    pass


@dataclass(frozen=True, slots=True)
class Nak:
    pass


@dataclass(frozen=True, slots=True)
class Progress:
    text: str


@dataclass(frozen=True, slots=True)
class Message:
    payload: bytes


@dataclass(frozen=True, slots=True)
class BadFrame:
    """A message with a wrong LRC or an overlong frame: the receiver answers NAK."""

    reason: str


Event = Ack | Nak | Progress | Message | BadFrame


class FrameDecoder:
    """Incremental decoder for either direction. Garbage between frames is counted and dropped."""

    def __init__(self, variant: LrcVariant) -> None:
        self.variant = variant
        self._buf = bytearray()
        self._mode = 0  # 0 idle, 1 in message, 2 in progress, 3 expecting LRC, 4/5 ACK trailer
        self.garbage_bytes = 0

    def reset(self) -> None:
        self._buf.clear()
        self._mode = 0

    def feed(self, data: bytes) -> list[Event]:
        out: list[Event] = []
        for byte in data:
            ev = self._step(byte)
            if ev is not None:
                out.append(ev)
        return out

    def _step(self, byte: int) -> Event | None:
        mode = self._mode
        if mode == 3:  # the LRC after ETX
            self._mode = 0
            body = bytes(self._buf) + bytes([ETX])
            self._buf.clear()
            if lrc(body, self.variant) != byte:
                return BadFrame("lrc")
            return Message(body[:-1])
        if mode == 4:  # after a bare ACK/NAK: an ETX means the ECR17 `06 03 LRC` form
            if byte == ETX:
                self._mode = 5
                return None
            self._mode = 0
        elif mode == 5:
            self._mode = 0
            return None
        elif mode == 1:
            if byte == ETX:
                self._mode = 3
            elif byte == STX:  # a new frame started: the old one was truncated
                self._buf.clear()
                return BadFrame("truncated")
            elif len(self._buf) >= MAX_MESSAGE:
                self._buf.clear()
                self._mode = 0
                return BadFrame("length")
            else:
                self._buf.append(byte)
            return None
        elif mode == 2:
            if byte == EOT:
                self._mode = 0
                text = bytes(self._buf).decode("ascii", "replace")
                self._buf.clear()
                return Progress(text)
            if len(self._buf) >= PROGRESS_LEN or byte in (STX, SOH):
                self._buf.clear()
                self._mode = 0
                self.garbage_bytes += 1
                return self._step(byte) if byte in (STX, SOH) else None
            self._buf.append(byte)
            return None
        # idle
        if byte == STX:
            self._buf.clear()
            self._mode = 1
        elif byte == SOH:
            self._buf.clear()
            self._mode = 2
        elif byte in (ACK, NAK):
            self._mode = 4
            return Ack() if byte == ACK else Nak()
        else:
            self.garbage_bytes += 1
        return None


# --- application messages ------------------------------------------------------------------------------


class Code(enum.Enum):
    PAYMENT = "P"
    RESULT = "E"
    REVERSE = "S"
    GET_LAST = "G"
    REPRINT = "R"
    TOTALS = "T"
    STATUS = "s"
    CLOSE = "C"


class ResultCode(enum.Enum):
    APPROVED = "00"
    DECLINED = "01"
    NONE = "02"  # answer to G when the terminal has no transaction on record


@dataclass(frozen=True, slots=True)
class Header:
    terminal_id: str
    code: Code


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    terminal_id: str
    ecr_id: str
    amount_cents: int
    reference: str


@dataclass(frozen=True, slots=True)
class SimpleRequest:
    """G, T, s, C and R carry only the header; S carries the STAN to reverse."""

    terminal_id: str
    code: Code
    stan: str = ""


@dataclass(frozen=True, slots=True)
class TransactionResult:
    terminal_id: str
    result: ResultCode
    masked_pan: str
    auth_code: str
    stan: str
    online_id: str
    amount_cents: int
    reference: str
    timestamp: str  # YYMMDDhhmmss, terminal clock
    code: Code = Code.RESULT


@dataclass(frozen=True, slots=True)
class TotalsReply:
    terminal_id: str
    count: int
    total_cents: int


@dataclass(frozen=True, slots=True)
class StatusReply:
    terminal_id: str
    ready: bool
    detail: str


AnyMessage = PaymentRequest | SimpleRequest | TransactionResult | TotalsReply | StatusReply


class MessageError(ValueError):
    pass


def _fit(value: str, width: int, *, zero: bool = False) -> str:
    if len(value) > width:
        raise MessageError(f"field {value!r} wider than {width}")
    return value.rjust(width, "0") if zero else value.ljust(width)


def encode_message(msg: AnyMessage) -> bytes:
    tid = _fit(msg.terminal_id, 8)
    if isinstance(msg, PaymentRequest):
        body = "P" + _fit(msg.ecr_id, 8) + _fit(str(msg.amount_cents), 8, zero=True) + _fit(msg.reference, 16)
    elif isinstance(msg, SimpleRequest):
        body = msg.code.value + (_fit(msg.stan, 6, zero=True) if msg.code is Code.REVERSE else "")
    elif isinstance(msg, TransactionResult):
        body = msg.code.value + msg.result.value + _fit(msg.masked_pan, 19) + _fit(msg.auth_code, 6)
        body += _fit(msg.stan, 6, zero=True) + _fit(msg.online_id, 6)
        body += _fit(str(msg.amount_cents), 8, zero=True)
        body += _fit(msg.reference, 16) + _fit(msg.timestamp, 12)
    elif isinstance(msg, TotalsReply):
        body = "T" + _fit(str(msg.count), 4, zero=True) + _fit(str(msg.total_cents), 10, zero=True)
    else:
        body = "s" + ("0" if msg.ready else "1") + _fit(msg.detail, 16)
    return (tid + "0" + body).encode("ascii")


_RESULT_LEN = 10 + 2 + 19 + 6 + 6 + 6 + 8 + 16 + 12


def decode_message(payload: bytes, *, from_terminal: bool) -> AnyMessage:
    try:
        text = payload.decode("ascii")
    except UnicodeDecodeError as exc:
        raise MessageError("message is not ASCII") from exc
    if len(text) < 10 or text[8] != "0":
        raise MessageError("bad header")
    tid = text[:8].rstrip()
    try:
        code = Code(text[9])
    except ValueError as exc:
        raise MessageError(f"unknown message code {text[9]!r}") from exc
    rest = text[10:]
    try:
        return _decode_body(tid, code, rest, from_terminal)
    except ValueError as exc:
        raise MessageError(f"bad {code.name} message: {exc}") from exc


def _decode_body(tid: str, code: Code, rest: str, from_terminal: bool) -> AnyMessage:
    if code is Code.RESULT and from_terminal:
        if len(rest) != _RESULT_LEN - 10:
            raise ValueError("length")
        return TransactionResult(
            terminal_id=tid,
            result=ResultCode(rest[0:2]),
            masked_pan=rest[2:21].rstrip(),
            auth_code=rest[21:27].rstrip(),
            stan=rest[27:33],
            online_id=rest[33:39].rstrip(),
            amount_cents=int(rest[39:47]),
            reference=rest[47:63].rstrip(),
            timestamp=rest[63:75].rstrip(),
        )
    if code is Code.PAYMENT and not from_terminal:
        if len(rest) != 32:
            raise ValueError("length")
        return PaymentRequest(tid, rest[:8].rstrip(), int(rest[8:16]), rest[16:32].rstrip())
    if code is Code.TOTALS and from_terminal:
        if len(rest) != 14:
            raise ValueError("length")
        return TotalsReply(tid, int(rest[:4]), int(rest[4:14]))
    if code is Code.STATUS and from_terminal:
        if len(rest) != 17:
            raise ValueError("length")
        return StatusReply(tid, rest[0] == "0", rest[1:].rstrip())
    if not from_terminal and code is not Code.RESULT:
        want = 6 if code is Code.REVERSE else 0
        if len(rest) != want or (want and not rest.isdigit()):
            raise ValueError("length")
        return SimpleRequest(tid, code, rest)
    raise ValueError("unexpected direction")
