"""ESC/POS document builder (sans-I/O): produces the bytes of one print job."""

from __future__ import annotations

import enum

ESC = 0x1B
GS = 0x1D
FS = 0x1C
DLE = 0x10

INIT = b"\x1b\x40"
CHINESE_ON = b"\x1c\x26"
CHINESE_OFF = b"\x1c\x2e"


class Align(enum.IntEnum):
    LEFT = 0
    CENTER = 1
    RIGHT = 2


class QrErrorLevel(enum.IntEnum):
    L = 0x30
    M = 0x31
    Q = 0x32
    H = 0x33


def status_request(n: int) -> bytes:
    """DLE EOT n real-time status request (n = 1..4)."""
    if n not in (1, 2, 3, 4):
        raise ValueError("DLE EOT n must be 1..4")
    return bytes([DLE, 0x04, n])


def asb_enable(mask: int = 0x0F) -> bytes:
    """GS a n: automatic status back for drawer/online/error/paper (bits 0-3)."""
    return bytes([GS, 0x61, mask & 0xFF])


def is_double_byte_printable(ch: str) -> bool:
    """True if the character is ASCII or a GB18030 two-byte code (what printer fonts hold).

    Four-byte GB18030 codes (e.g. CJK extension A, often in rare names) are missing from printer fonts.
    """
    try:
        return len(ch.encode("gb18030")) <= 2
    except UnicodeEncodeError:
        return False


class Document:
    """Fluent builder; call bytes() for the job. Starts with ESC @ so every job is self-contained."""

    def __init__(self, *, chinese: bool = True) -> None:
        self._out = bytearray(INIT)
        self._chinese = False
        self.unprintable: list[str] = []  # characters replaced because the font lacks them
        if chinese:
            self.chinese(True)

    def raw(self, data: bytes) -> Document:
        self._out += data
        return self

    def chinese(self, on: bool) -> Document:
        self._out += CHINESE_ON if on else CHINESE_OFF
        self._chinese = on
        return self

    def text(self, value: str, *, replacement: str = "?") -> Document:
        """Text in GB18030 (Chinese mode) or ASCII; characters the font cannot hold are replaced.

        Callers that must print rare name characters render that line with raster() instead.
        """
        chars = []
        for ch in value:
            ok = is_double_byte_printable(ch) if self._chinese else ch.isascii()
            if not ok:
                self.unprintable.append(ch)
                ch = replacement
            chars.append(ch)
        self._out += "".join(chars).encode("gb18030" if self._chinese else "ascii")
        return self

    def line(self, value: str = "") -> Document:
        return self.text(value).raw(b"\n")

    def align(self, value: Align) -> Document:
        return self.raw(bytes([ESC, 0x61, int(value)]))

    def bold(self, on: bool) -> Document:
        return self.raw(bytes([ESC, 0x45, 1 if on else 0]))

    def size(self, width: int = 1, height: int = 1) -> Document:
        """GS ! n: character magnification 1..8 in each direction."""
        if not (1 <= width <= 8 and 1 <= height <= 8):
            raise ValueError("size must be 1..8")
        return self.raw(bytes([GS, 0x21, ((width - 1) << 4) | (height - 1)]))

    def feed(self, lines: int = 1) -> Document:
        return self.raw(bytes([ESC, 0x64, max(0, min(255, lines))]))

    def qr(
        self, data: str | bytes, *, module: int = 6, level: QrErrorLevel = QrErrorLevel.M, model: int = 2
    ) -> Document:
        """GS ( k: select model, module size, error level, store data, print."""
        payload = data.encode("utf-8") if isinstance(data, str) else data
        if not 1 <= module <= 16:
            raise ValueError("QR module size must be 1..16")
        if len(payload) + 3 > 0xFFFF:
            raise ValueError("QR payload too long")
        store_len = len(payload) + 3
        self._out += b"\x1d\x28\x6b\x04\x00\x31\x41" + bytes([0x30 + model, 0x00])
        self._out += b"\x1d\x28\x6b\x03\x00\x31\x43" + bytes([module])
        self._out += b"\x1d\x28\x6b\x03\x00\x31\x45" + bytes([int(level)])
        self._out += b"\x1d\x28\x6b" + store_len.to_bytes(2, "little") + b"\x31\x50\x30" + payload
        self._out += b"\x1d\x28\x6b\x03\x00\x31\x51\x30"
        return self

    def code128(self, data: str, *, height: int = 80, width: int = 2, hri: int = 2) -> Document:
        """GS k 73 with code set B ({B prefix); HRI position 0 none, 1 above, 2 below, 3 both."""
        body = b"{B" + data.encode("ascii")
        if len(body) > 255:
            raise ValueError("CODE128 data too long")
        self._out += bytes([GS, 0x68, height, GS, 0x77, width, GS, 0x48, hri])
        self._out += bytes([GS, 0x6B, 73, len(body)]) + body
        return self

    def raster(self, width_bytes: int, height: int, bits: bytes) -> Document:
        """GS v 0: a 1-bit image, e.g. a name with characters missing from the font."""
        if len(bits) != width_bytes * height:
            raise ValueError("raster size mismatch")
        self._out += b"\x1d\x76\x30\x00" + width_bytes.to_bytes(2, "little") + height.to_bytes(2, "little")
        self._out += bits
        return self

    def cut(self, *, partial: bool = True, feed: int = 3) -> Document:
        """GS V 66/65 n: feed n then cut (partial by default: many models only do partial)."""
        return self.raw(bytes([GS, 0x56, 0x42 if partial else 0x41, feed]))

    def bytes(self) -> bytes:
        return bytes(self._out)
