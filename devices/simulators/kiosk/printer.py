"""Simulated ESC/POS thermal receipt printer on a pty: real-time status, ASB, receipts to text and PNG."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from devices.simulators.kiosk.base import PtySimulator
from devices.simulators.kiosk.escpos_interp import EscPosInterpreter, Receipt
from devices.simulators.kiosk.pty_link import LINE_FAULTS, PtyDevice
from edge.kiosk.printer.status import PaperState, PrinterHealth, encode_asb, encode_dle_eot

log = logging.getLogger(__name__)


class EscPosPrinterSim(PtySimulator):
    FAULTS: tuple[str, ...] = (
        "paper",  # value: full | low | out
        "cover_open",  # bool
        "cutter_error",  # bool: set now (the next cut jams) / clear
        "jam_next_cut",  # the next cut raises an autocutter error
        "paper_out_next_job",  # paper runs out during the next job: no cut, printer offline
        *LINE_FAULTS,
    )

    def __init__(
        self,
        link_dir: Path,
        *,
        baud: int = 115200,
        name: str = "printer",
        output_dir: Path | None = None,
        render: bool = True,
    ) -> None:
        super().__init__()
        self.port = PtyDevice(name, link_dir, baud)
        self.port.on_data = self._on_data
        self.health = PrinterHealth(paper=PaperState.FULL)
        self.output_dir = output_dir
        self.render = render and output_dir is not None
        self.receipts: list[Receipt] = []
        self.jam_next_cut = False
        self.paper_out_next_job = False
        self._asb = 0
        self._interp = self._new_interp()

    def _new_interp(self) -> EscPosInterpreter:
        return EscPosInterpreter(self._status, self._cut, self._set_asb)

    def set_device_fault(self, fault: str, value: Any) -> None:
        if fault == "paper":
            self._change(paper=PaperState(str(value)), paper_end_stop=str(value) == "out")
        elif fault == "cover_open":
            self._change(cover_open=bool(value), offline=bool(value))
        elif fault == "cutter_error":
            self._change(cutter_error=bool(value), error=bool(value))
        elif fault == "jam_next_cut":
            self.jam_next_cut = bool(value)
        elif fault == "paper_out_next_job":
            self.paper_out_next_job = bool(value)
        else:
            super().set_device_fault(fault, value)

    def on_replug(self) -> None:
        self._interp = self._new_interp()

    def _change(self, **changes: Any) -> None:
        old = self.health
        self.health = replace(old, **changes)
        if self.health != old and self._asb:
            self.port.send(encode_asb(self.health))  # ASB: pushed on every change

    def _set_asb(self, mask: int) -> None:
        self._asb = mask

    def _status(self, n: int) -> None:
        if 1 <= n <= 4:
            self.port.send(bytes([encode_dle_eot(self.health, n)]))

    def _on_data(self, data: bytes) -> None:
        if self.health.cover_open or self.health.paper is PaperState.OUT or self.health.cutter_error:
            # Offline: only real-time commands are honoured; job bytes are dropped, as the printer does.
            for i in range(len(data) - 2):
                if data[i] == 0x10 and data[i + 1] == 0x04:
                    self._status(data[i + 2])
            return
        self._interp.feed(data)

    def _cut(self) -> None:
        receipt = self._interp.receipt
        self._interp.receipt = Receipt()
        if self.paper_out_next_job:
            self.paper_out_next_job = False
            self._change(paper=PaperState.OUT, paper_end_stop=True)
            receipt.cut = False
        elif self.jam_next_cut:
            self.jam_next_cut = False
            self._change(cutter_error=True, error=True)
            receipt.cut = False
        self.receipts.append(receipt)
        log.info(
            "printer sim: receipt %d (%d elements, cut=%s)", len(self.receipts), len(receipt.elements), receipt.cut
        )
        if self.output_dir is not None:
            stem = self.output_dir / f"receipt-{len(self.receipts):04d}"
            stem.with_suffix(".txt").write_text(receipt.text + "\n", encoding="utf-8")
            if self.render:
                from devices.simulators.kiosk.render import render_png  # Pillow only when rendering

                render_png(receipt, stem.with_suffix(".png"))
