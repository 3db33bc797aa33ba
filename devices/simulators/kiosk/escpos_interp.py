"""Incremental ESC/POS interpreter for the printer simulator: bytes in, receipt elements out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class TextLine:
    text: str
    width: int = 1
    height: int = 1
    align: int = 0
    bold: bool = False


@dataclass
class QrCode:
    data: bytes
    module: int
    level: int


@dataclass
class Barcode:
    data: str


@dataclass
class Raster:
    width_bytes: int
    height: int
    bits: bytes


@dataclass
class Receipt:
    elements: list[TextLine | QrCode | Barcode | Raster] = field(default_factory=list)
    cut: bool = False

    @property
    def text(self) -> str:
        out = []
        for el in self.elements:
            if isinstance(el, TextLine):
                out.append(el.text)
            elif isinstance(el, QrCode):
                out.append(f"[QR {el.data.decode('utf-8', 'replace')}]")
            elif isinstance(el, Barcode):
                out.append(f"[CODE128 {el.data}]")
            else:
                out.append(f"[IMAGE {el.width_bytes * 8}x{el.height}]")
        return "\n".join(out)

    @property
    def qr_payloads(self) -> list[bytes]:
        return [el.data for el in self.elements if isinstance(el, QrCode)]


class EscPosInterpreter:
    """Feeds arbitrary chunks; calls on_status(n) for DLE EOT n, on_cut() at a cut, on_asb(mask) for GS a."""

    def __init__(
        self,
        on_status: Callable[[int], None],
        on_cut: Callable[[], None],
        on_asb: Callable[[int], None],
    ) -> None:
        self._buf = bytearray()
        self.on_status = on_status
        self.on_cut = on_cut
        self.on_asb = on_asb
        self.receipt = Receipt()
        self._line = bytearray()
        self._chinese = False
        self._size = (1, 1)
        self._align = 0
        self._bold = False
        self._qr_module = 3
        self._qr_level = 0x30
        self._qr_data = b""
        self.unknown = 0

    def feed(self, data: bytes) -> None:
        self._buf += data
        while self._buf:
            used = self._step()
            if used == 0:
                return  # need more bytes
            del self._buf[:used]

    def _flush_line(self) -> None:
        if self._line:
            text = bytes(self._line).decode("gb18030" if self._chinese else "ascii", "replace")
            w, h = self._size
            self.receipt.elements.append(TextLine(text, w, h, self._align, self._bold))
            self._line.clear()

    def _step(self) -> int:
        b = self._buf
        c = b[0]
        if c == 0x0A:
            if not self._line:
                self.receipt.elements.append(TextLine(""))
            self._flush_line()
            return 1
        if c == 0x10:  # DLE EOT n: real-time, answered immediately
            if len(b) < 3:
                return 0
            if b[1] == 0x04:
                self.on_status(b[2])
                return 3
            self.unknown += 1
            return 1
        if c == 0x1B:
            if len(b) < 2:
                return 0
            cmd = b[1]
            if cmd == 0x40:
                self._flush_line()
                self._size, self._align, self._bold, self._chinese = (1, 1), 0, False, False
                return 2
            if cmd in (0x61, 0x45, 0x64, 0x21, 0x4D, 0x74):
                if len(b) < 3:
                    return 0
                n = b[2]
                if cmd == 0x61:
                    self._align = n & 3
                elif cmd == 0x45:
                    self._bold = bool(n & 1)
                elif cmd == 0x64:
                    self._flush_line()
                    self.receipt.elements.extend(TextLine("") for _ in range(n))
                return 3
            self.unknown += 1
            return 2
        if c == 0x1C:
            if len(b) < 2:
                return 0
            if b[1] == 0x26:
                self._chinese = True
            elif b[1] == 0x2E:
                self._chinese = False
            return 2
        if c == 0x1D:
            return self._gs()
        if c < 0x20 and c not in (0x09,):
            self.unknown += 1
            return 1
        self._line.append(c)
        return 1

    def _gs(self) -> int:
        b = self._buf
        if len(b) < 2:
            return 0
        cmd = b[1]
        if cmd in (0x21, 0x68, 0x77, 0x48, 0x61):
            if len(b) < 3:
                return 0
            if cmd == 0x21:
                self._flush_line()
                self._size = ((b[2] >> 4) + 1, (b[2] & 0x0F) + 1)
            elif cmd == 0x61:
                self.on_asb(b[2])
            return 3
        if cmd == 0x56:  # cut: GS V m, or GS V 65/66 n
            if len(b) < 3:
                return 0
            if b[2] in (0x41, 0x42):
                if len(b) < 4:
                    return 0
                self._cut()
                return 4
            self._cut()
            return 3
        if cmd == 0x28 and len(b) >= 3 and b[2] == 0x6B:  # GS ( k
            if len(b) < 5:
                return 0
            size = b[3] | (b[4] << 8)
            if len(b) < 5 + size:
                return 0
            self._qr(bytes(b[5 : 5 + size]))
            return 5 + size
        if cmd == 0x6B:  # GS k m n data (m >= 65 form)
            if len(b) < 4:
                return 0
            n = b[3]
            if len(b) < 4 + n:
                return 0
            self._flush_line()
            data = bytes(b[4 : 4 + n]).decode("ascii", "replace")
            self.receipt.elements.append(Barcode(data[2:] if data.startswith("{") else data))
            return 4 + n
        if cmd == 0x76 and len(b) >= 3 and b[2] == 0x30:  # GS v 0 m xL xH yL yH data
            if len(b) < 8:
                return 0
            wb = b[4] | (b[5] << 8)
            h = b[6] | (b[7] << 8)
            if len(b) < 8 + wb * h:
                return 0
            self._flush_line()
            self.receipt.elements.append(Raster(wb, h, bytes(b[8 : 8 + wb * h])))
            return 8 + wb * h
        if cmd == 0x28 and len(b) < 3:
            return 0
        self.unknown += 1
        return 2

    def _qr(self, params: bytes) -> None:
        if len(params) < 2 or params[0] != 0x31:
            return
        fn = params[1]
        if fn == 0x43 and len(params) >= 3:
            self._qr_module = params[2]
        elif fn == 0x45 and len(params) >= 3:
            self._qr_level = params[2]
        elif fn == 0x50:
            self._qr_data = params[3:]
        elif fn == 0x51:
            self._flush_line()
            self.receipt.elements.append(QrCode(self._qr_data, self._qr_module, self._qr_level))

    def _cut(self) -> None:
        self._flush_line()
        self.receipt.cut = True
        self.on_cut()
