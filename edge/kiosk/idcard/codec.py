"""GA 467-style ID card reader framing: sans-I/O encoder and resynchronising decoder.

Frame: AA AA AA 96 69 | LEN (BE, bytes after LEN incl. CHK) | body | CHK (XOR of LEN..last body byte).
Requests carry CMD PARAM; responses carry SW1 SW2 SW3 then data.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
HEADER_LEN = 7  # preamble + 2-byte LEN
# Longest legal frame: 30 10 reply = SW(3) + 3 lengths(6) + 256 + 1024 + 1024 + CHK.
MAX_LEN = 3 + 6 + 256 + 1024 + 1024 + 1
MIN_LEN = 3  # a request: CMD PARAM CHK


class Command(enum.Enum):
    """(CMD, PARAM) pairs."""

    RESET_SAM = (0x10, 0xFF)
    SAM_STATUS = (0x11, 0xFF)
    READ_SAM_ID = (0x12, 0xFF)
    FIND_CARD = (0x20, 0x01)
    SELECT_CARD = (0x20, 0x02)
    READ_TEXT_PHOTO = (0x30, 0x01)
    READ_ADDRESS = (0x30, 0x03)
    READ_TEXT_PHOTO_FP = (0x30, 0x10)


# Reply timeouts used by public implementations (seconds).
TIMEOUTS: dict[Command, float] = {
    Command.RESET_SAM: 0.3,
    Command.SAM_STATUS: 0.1,
    Command.READ_SAM_ID: 0.3,
    Command.FIND_CARD: 0.1,
    Command.SELECT_CARD: 0.1,
    Command.READ_TEXT_PHOTO: 2.0,
    Command.READ_ADDRESS: 0.3,
    Command.READ_TEXT_PHOTO_FP: 3.0,
}


class Status(enum.IntEnum):
    """SW3 status codes."""

    SUCCESS = 0x90
    NO_SUCH_ITEM = 0x91
    FIND_OK = 0x9F
    NO_CARD = 0x80
    SELECT_FAILED = 0x81
    READ_FAILED = 0x41
    CHECKSUM_ERROR = 0x10
    LENGTH_ERROR = 0x11
    COMMAND_ERROR = 0x21
    UNAUTHORISED = 0x23
    UNRECOGNISED = 0x24
    CARD_AUTH_SAM_FAILED = 0x31
    SAM_AUTH_CARD_FAILED = 0x32
    VERIFY_FAILED = 0x33
    FINGERPRINT_ERROR = 0x37
    INFO_LENGTH_ERROR = 0x3F
    UNKNOWN_CARD_TYPE = 0x40
    GET_RANDOM_FAILED = 0x47
    SAM_SELF_TEST_FAILED = 0x60
    SAM_NOT_AUTHORISED = 0x66

    @classmethod
    def from_code(cls, code: int) -> Status | None:
        try:
            return cls(code)
        except ValueError:
            return None


def checksum(data: bytes | bytearray | memoryview) -> int:
    value = 0
    for b in data:
        value ^= b
    return value


def encode_frame(body: bytes) -> bytes:
    """Wrap a body (request CMD PARAM, or response SW + data) in preamble, LEN and CHK."""
    length = len(body) + 1
    head = length.to_bytes(2, "big")
    return PREAMBLE + head + body + bytes([checksum(head + body)])


def encode_request(command: Command) -> bytes:
    return encode_frame(bytes(command.value))


def encode_response(sw3: int, data: bytes = b"") -> bytes:
    return encode_frame(bytes([0x00, 0x00, sw3]) + data)


@dataclass(frozen=True, slots=True)
class Frame:
    """A checked frame; ``body`` excludes preamble, LEN and CHK."""

    body: bytes

    @property
    def sw3(self) -> int:
        return self.body[2] if len(self.body) >= 3 else -1

    @property
    def status(self) -> Status | None:
        return Status.from_code(self.sw3)

    @property
    def data(self) -> bytes:
        return self.body[3:]

    @property
    def command(self) -> Command | None:
        """Interpret as a request (simulator side)."""
        if len(self.body) != 2:
            return None
        try:
            return Command((self.body[0], self.body[1]))
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class FrameError:
    """A discarded candidate frame; the decoder has already resynchronised."""

    reason: str  # "checksum" | "length"


class FrameDecoder:
    """Incremental decoder: feed() any chunking, get whole checked frames back.

    After garbage, a bad checksum or an impossible LEN it drops one byte past the failed preamble and
    searches again, so a valid frame that follows (or is embedded in) junk is always recovered.
    """

    def __init__(self, max_len: int = MAX_LEN, min_len: int = MIN_LEN) -> None:
        self._buf = bytearray()
        self._max_len = max_len
        self._min_len = min_len
        self.garbage_bytes = 0
        self.checksum_errors = 0
        self.length_errors = 0

    def reset(self) -> None:
        self._buf.clear()

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame | FrameError]:
        self._buf += data
        out: list[Frame | FrameError] = []
        buf = self._buf
        while True:
            start = buf.find(PREAMBLE)
            if start < 0:
                # Keep a tail that may be the start of a preamble split across reads.
                keep = _preamble_prefix_len(buf)
                self.garbage_bytes += len(buf) - keep
                del buf[: len(buf) - keep]
                break
            if start:
                self.garbage_bytes += start
                del buf[:start]
            if len(buf) < HEADER_LEN:
                break
            length = int.from_bytes(buf[5:7], "big")
            if not self._min_len <= length <= self._max_len:
                self.length_errors += 1
                del buf[:1]
                out.append(FrameError("length"))
                continue
            end = HEADER_LEN + length
            if len(buf) < end:
                break
            if checksum(memoryview(buf)[5 : end - 1]) != buf[end - 1]:
                self.checksum_errors += 1
                del buf[:1]
                out.append(FrameError("checksum"))
                continue
            out.append(Frame(bytes(buf[HEADER_LEN : end - 1])))
            del buf[:end]
        return out


def _preamble_prefix_len(buf: bytearray) -> int:
    for n in range(min(len(buf), len(PREAMBLE) - 1), 0, -1):
        if buf.endswith(PREAMBLE[:n]):
            return n
    return 0


@dataclass(frozen=True, slots=True)
class ReadReply:
    """Data of a 30 01 / 30 10 reply, split into its blocks."""

    text: bytes
    photo: bytes
    fingerprint: bytes


def parse_read_reply(data: bytes, with_fingerprint: bool = False) -> ReadReply:
    """Split the data after SW: text length, photo length[, fp length] (BE) then the blocks."""
    n_lengths = 3 if with_fingerprint else 2
    head = 2 * n_lengths
    if len(data) < head:
        raise ValueError("read reply shorter than its length fields")
    lengths = [int.from_bytes(data[i : i + 2], "big") for i in range(0, head, 2)]
    if head + sum(lengths) != len(data):
        raise ValueError(f"read reply blocks {lengths} do not match {len(data) - head} data bytes")
    text_end = head + lengths[0]
    photo_end = text_end + lengths[1]
    return ReadReply(data[head:text_end], data[text_end:photo_end], data[photo_end:])


def encode_read_reply(text: bytes, photo: bytes, fingerprint: bytes | None = None) -> bytes:
    """Data part of a successful read reply (simulator side)."""
    parts = [len(text).to_bytes(2, "big"), len(photo).to_bytes(2, "big")]
    if fingerprint is not None:
        parts.append(len(fingerprint).to_bytes(2, "big"))
    return b"".join(parts) + text + photo + (fingerprint or b"")
