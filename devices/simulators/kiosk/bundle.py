"""All four kiosk peripherals together, plus the HTTP control API technicians use to flip faults."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from devices.simulators.kiosk.idcard import IdCardReaderSim
from devices.simulators.kiosk.payment import PaymentTerminalSim
from devices.simulators.kiosk.printer import EscPosPrinterSim
from devices.simulators.kiosk.scanner import QrScannerSim

log = logging.getLogger(__name__)


class Simulator(Protocol):
    FAULTS: tuple[str, ...]

    @property
    def path(self) -> Path: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def set_fault(self, fault: str, value: Any = True) -> None: ...


def parse_value(raw: str | None) -> Any:
    """CLI/HTTP values: true/false, integers, decimals, else the string itself."""
    if raw is None or raw == "":
        return True
    low = raw.lower()
    if low in ("true", "on", "yes"):
        return True
    if low in ("false", "off", "no"):
        return False
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


class SimulatedKiosk:
    def __init__(self, link_dir: Path, *, baud: int = 115200, receipts_dir: Path | None = None) -> None:
        self.link_dir = link_dir
        self.printer = EscPosPrinterSim(link_dir, baud=baud, output_dir=receipts_dir)
        self.idcard = IdCardReaderSim(link_dir, baud=baud)
        self.scanner = QrScannerSim(link_dir)
        self.payment = PaymentTerminalSim(link_dir, baud=baud, host_delay=2.0)
        self.devices: dict[str, Simulator] = {
            "idcard": self.idcard,
            "printer": self.printer,
            "scanner": self.scanner,
            "payment": self.payment,
        }

    async def start(self) -> None:
        for sim in self.devices.values():
            await sim.start()

    async def stop(self) -> None:
        for sim in self.devices.values():
            await sim.stop()

    def describe(self) -> dict[str, Any]:
        return {name: {"path": str(sim.path), "faults": list(sim.FAULTS)} for name, sim in self.devices.items()}

    def set_fault(self, device: str, fault: str, value: Any) -> None:
        sim = self.devices.get(device)
        if sim is None:
            raise KeyError(f"unknown device {device!r}; have {sorted(self.devices)}")
        sim.set_fault(fault, value)
        log.info("kiosk sim: %s.%s = %r", device, fault, value)


def control_app(kiosk: SimulatedKiosk) -> web.Application:
    """GET /devices; POST /devices/{device}/faults/{fault} with optional {"value": ...}; GET /receipts."""

    async def devices(request: web.Request) -> web.Response:
        return web.json_response(kiosk.describe())

    async def fault(request: web.Request) -> web.Response:
        value: Any = True
        if request.can_read_body:
            try:
                body = await request.json()
            except json.JSONDecodeError:
                return web.json_response({"error": "body must be JSON"}, status=400)
            if isinstance(body, dict) and "value" in body:
                value = body["value"]
                # Codes and card keys stay strings ("0012" is a code, not 12).
                if isinstance(value, str) and request.match_info["fault"] not in ("code", "card"):
                    value = parse_value(value)
        try:
            kiosk.set_fault(request.match_info["device"], request.match_info["fault"], value)
        except (KeyError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=404 if isinstance(exc, KeyError) else 400)
        return web.json_response({"ok": True, "device": request.match_info["device"], "value": value})

    async def receipts(request: web.Request) -> web.Response:
        return web.json_response([r.text for r in kiosk.printer.receipts])

    app = web.Application()
    app.add_routes(
        [
            web.get("/devices", devices),
            web.post("/devices/{device}/faults/{fault}", fault),
            web.get("/receipts", receipts),
        ]
    )
    return app
