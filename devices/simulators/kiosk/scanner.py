"""Simulated serial QR/barcode scanner on a pty (manual/serial trigger mode)."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

from devices.simulators.kiosk.base import PtySimulator
from devices.simulators.kiosk.pty_link import LINE_FAULTS, PtyDevice
from edge.kiosk.scanner.codec import TRIGGER_OFF, TRIGGER_ON


class QrScannerSim(PtySimulator):
    """Codes queued with present() are emitted while the trigger is on (or at once in presentation mode)."""

    FAULTS: tuple[str, ...] = ("code", "no_suffix", "presentation", *LINE_FAULTS)
    GARBAGE_BYTES = 8

    def __init__(self, link_dir: Path, *, baud: int = 9600, name: str = "scanner", suffix: bytes = b"\r") -> None:
        super().__init__()
        self.port = PtyDevice(name, link_dir, baud, chunk=8)
        self.port.on_data = self._on_data
        self.suffix = suffix
        self.no_suffix = False
        self.presentation = False
        self.triggered = False
        self.trigger_commands: list[bytes] = []
        self._pending: deque[bytes] = deque()
        self._rx = bytearray()

    def present(self, code: str | bytes) -> None:
        """A citizen holds a code in front of the scanner."""
        self._pending.append(code.encode() if isinstance(code, str) else code)
        self._emit()

    def set_device_fault(self, fault: str, value: Any) -> None:
        if fault == "code":
            self.present(str(value))
        elif fault in ("no_suffix", "presentation"):
            setattr(self, fault, bool(value))
            self._emit()
        else:
            super().set_device_fault(fault, value)

    def _emit(self) -> None:
        while self._pending and (self.triggered or self.presentation):
            code = self._pending.popleft()
            self.port.send(code + (b"" if self.no_suffix else self.suffix))
            self.triggered = False  # one good read ends a manual trigger, as real scanners do

    def _on_data(self, data: bytes) -> None:
        self._rx += data
        while (idx := self._rx.find(b"\r")) >= 0:
            cmd = bytes(self._rx[: idx + 1])
            del self._rx[: idx + 1]
            self.trigger_commands.append(cmd)
            if cmd.endswith(TRIGGER_ON):
                self.triggered = True
                self._emit()
            elif cmd.endswith(TRIGGER_OFF):
                self.triggered = False
