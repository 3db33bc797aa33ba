"""Barcode/QR scanner framing (sans-I/O): terminator split plus an inter-character-gap flush.

The clock is supplied by the caller (``now`` in seconds), so the codec never sleeps or reads time itself.
"""

from __future__ import annotations

from dataclasses import dataclass

TRIGGER_ON = b"\x16T\r"  # SYN T CR (Honeywell family, manual/serial trigger mode)
TRIGGER_OFF = b"\x16U\r"  # SYN U CR
CR = b"\r"
CRLF = b"\r\n"
DEFAULT_GAP = 0.05  # 50 ms: >40 character times at 9600 baud, far below a human re-scan
MAX_CODE = 4096


@dataclass(frozen=True, slots=True)
class ScannedCode:
    """Decoded data without the suffix. Treat as secret (payment codes come through here)."""

    data: bytes

    def __repr__(self) -> str:
        return f"ScannedCode(<{len(self.data)} bytes>)"

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


class ScanDecoder:
    def __init__(self, terminator: bytes = CR, gap: float | None = DEFAULT_GAP) -> None:
        if terminator not in (CR, CRLF):
            raise ValueError("terminator must be CR or CRLF")
        self.terminator = terminator
        self.gap = gap
        self._buf = bytearray()
        self._last: float | None = None

    def feed(self, data: bytes, now: float) -> list[ScannedCode]:
        out = self.poll(now)  # a gap before this chunk ends the previous code
        self._buf += data
        self._last = now
        while True:
            idx = self._buf.find(self.terminator)
            if idx < 0:
                break
            code = bytes(self._buf[:idx])
            del self._buf[: idx + len(self.terminator)]
            if code.strip(b"\r\n"):
                out.append(ScannedCode(code.strip(b"\r\n")))
        if len(self._buf) > MAX_CODE:  # a stuck stream must not grow without bound
            out.append(ScannedCode(bytes(self._buf)))
            self._buf.clear()
        return out

    def deadline(self) -> float | None:
        """When poll() should next be called, or None if nothing is pending."""
        if not self._buf or self._last is None or self.gap is None:
            return None
        return self._last + self.gap

    def poll(self, now: float) -> list[ScannedCode]:
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return []
        code = bytes(self._buf).strip(b"\r\n")
        self._buf.clear()
        return [ScannedCode(code)] if code else []
