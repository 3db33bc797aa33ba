"""Kiosk configuration models (pydantic, unknown keys rejected, frozen).

[kiosk]
[[kiosk.kiosks]]
id = "K01"
[[kiosk.kiosks.peripherals]]
kind = "printer"          # idcard | printer | scanner | payment
port = "/dev/serial/by-id/usb-...-if00"   # or socket://host:port, loop://, a pty path
baud = 115200
options = { poll_interval = 5.0 }
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import Field

from edge.config_section import ConfigSection


class Kind(enum.Enum):
    IDCARD = "idcard"
    PRINTER = "printer"
    SCANNER = "scanner"
    PAYMENT = "payment"



class IdCardOptions(ConfigSection):
    poll_interval: float = Field(2.0, gt=0)
    find_interval: float = Field(0.2, gt=0)
    retries: int = Field(2, ge=0, le=5)
    timeout_scale: float = Field(1.0, ge=1.0)


class PrinterOptions(ConfigSection):
    poll_interval: float = Field(5.0, gt=0)
    use_asb: bool = True
    status_timeout: float = Field(1.0, gt=0)


class ScannerOptions(ConfigSection):
    terminator: str = Field("CR", pattern="^(CR|CRLF)$")
    gap: float | None = Field(0.05, gt=0)


class PaymentConfigOptions(ConfigSection):
    terminal_id: str = Field("00000001", max_length=8)
    ecr_id: str = Field("KIOSK001", max_length=8)
    lrc: str = Field("seeded_7f", pattern="^(plain|seeded_7f)$")
    framed_ack: bool = True
    ack_timeout: float = Field(3.0, gt=0)
    tries: int = Field(3, ge=1, le=5)
    sale_timeout: float = Field(130.0, gt=0)
    query_timeout: float = Field(5.0, gt=0)
    poll_interval: float = Field(10.0, gt=0)


_OPTIONS: dict[Kind, type[ConfigSection]] = {
    Kind.IDCARD: IdCardOptions,
    Kind.PRINTER: PrinterOptions,
    Kind.SCANNER: ScannerOptions,
    Kind.PAYMENT: PaymentConfigOptions,
}


def options_model(kind: Kind) -> type[ConfigSection]:
    return _OPTIONS[kind]


class PeripheralConfig(ConfigSection):
    kind: Kind
    port: str = Field(min_length=1)
    baud: int = Field(115200, gt=0)
    trace: bool = False
    options: dict[str, Any] = Field(default_factory=dict)


class KioskConfig(ConfigSection):
    id: str = Field(min_length=1, max_length=32)
    peripherals: list[PeripheralConfig] = Field(default_factory=list)


class KioskSection(ConfigSection):
    kiosks: list[KioskConfig] = Field(default_factory=list)
