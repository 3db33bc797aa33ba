"""Build kiosk peripheral drivers from config and run one kiosk's drivers together."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from edge.kiosk.config import (
    IdCardOptions,
    Kind,
    PaymentConfigOptions,
    PeripheralConfig,
    PrinterOptions,
    ScannerOptions,
    options_model,
)
from edge.kiosk.device import DeviceStatus
from edge.kiosk.driver_base import SerialDriver
from edge.kiosk.idcard.driver import IdCardReader
from edge.kiosk.payment.driver import PaymentOptions, PaymentTerminal
from edge.kiosk.payment.ecr import LrcVariant
from edge.kiosk.printer.driver import ReceiptPrinter
from edge.kiosk.scanner.codec import CR, CRLF
from edge.kiosk.scanner.driver import Scanner
from edge.kiosk.serial_port import LinkConfig

log = logging.getLogger(__name__)


def build_driver(kiosk_id: str, cfg: PeripheralConfig) -> SerialDriver[Any]:
    """One driver per peripheral; options are validated against the kind's model (unknown keys rejected)."""
    opts = options_model(cfg.kind).model_validate(cfg.options)
    link = LinkConfig(cfg.port, cfg.baud, trace=cfg.trace, name=f"{kiosk_id}.{cfg.kind.value}")
    if isinstance(opts, IdCardOptions):
        return IdCardReader(link, **opts.model_dump())
    if isinstance(opts, PrinterOptions):
        return ReceiptPrinter(link, **opts.model_dump())
    if isinstance(opts, ScannerOptions):
        return Scanner(link, terminator=CRLF if opts.terminator == "CRLF" else CR, gap=opts.gap)
    assert isinstance(opts, PaymentConfigOptions)
    values = opts.model_dump()
    poll = values.pop("poll_interval")
    values["lrc"] = LrcVariant.PLAIN if opts.lrc == "plain" else LrcVariant.SEEDED_7F
    return PaymentTerminal(link, PaymentOptions(**values), poll_interval=poll)


class KioskPeripherals:
    """All drivers of one kiosk as an async context manager; status changes go to one callback."""

    def __init__(
        self,
        kiosk_id: str,
        peripherals: list[PeripheralConfig],
        on_status: Callable[[str, DeviceStatus], None] | None = None,
    ) -> None:
        self.kiosk_id = kiosk_id
        self.drivers: dict[Kind, SerialDriver[Any]] = {}
        for cfg in peripherals:
            if cfg.kind in self.drivers:
                raise ValueError(f"kiosk {kiosk_id}: two {cfg.kind.value} peripherals")
            self.drivers[cfg.kind] = build_driver(kiosk_id, cfg)
        self._on_status = on_status

    async def __aenter__(self) -> KioskPeripherals:
        for drv in self.drivers.values():
            if self._on_status is not None:
                drv.subscribe(_forward(self._on_status, self.kiosk_id))
            await drv.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for drv in self.drivers.values():
            await drv.stop()

    def statuses(self) -> dict[str, DeviceStatus]:
        """For /api/v1/kiosks/{id}/devices and metrics."""
        return {kind.value: drv.status for kind, drv in self.drivers.items()}

    @property
    def idcard(self) -> IdCardReader | None:
        drv = self.drivers.get(Kind.IDCARD)
        return drv if isinstance(drv, IdCardReader) else None

    @property
    def printer(self) -> ReceiptPrinter | None:
        drv = self.drivers.get(Kind.PRINTER)
        return drv if isinstance(drv, ReceiptPrinter) else None

    @property
    def scanner(self) -> Scanner | None:
        drv = self.drivers.get(Kind.SCANNER)
        return drv if isinstance(drv, Scanner) else None

    @property
    def payment(self) -> PaymentTerminal | None:
        drv = self.drivers.get(Kind.PAYMENT)
        return drv if isinstance(drv, PaymentTerminal) else None


def _forward(callback: Callable[[str, DeviceStatus], None], kiosk_id: str) -> Callable[[DeviceStatus], None]:
    return lambda status: callback(kiosk_id, status)
