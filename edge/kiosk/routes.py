"""HTTP API of the kiosk domain: each kiosk's peripherals and their status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from edge.config import Role
from edge.kiosk.device import DeviceStatus
from edge.kiosk.health import condition
from edge.kiosk.service import KioskService, status_json
from edge.web.auth import requires
from edge.web.problems import ProblemError

KIOSKS_KEY = web.AppKey("kiosk", KioskService)


def _device(kind: str, status: DeviceStatus) -> dict[str, Any]:
    found = condition(kind, status)
    problem = None if found is None else {"severity": found.severity.value, "message": found.message}
    return {**status_json(status), "problem": problem}


def _kiosk(service: KioskService, kiosk_id: str) -> dict[str, Any] | None:
    """One kiosk's devices, or None while the kiosk service is (re)starting."""
    peripherals = service.kiosks.get(kiosk_id)
    if peripherals is None:
        return None
    return {kind: _device(kind, status) for kind, status in peripherals.statuses().items()}


def _known(service: KioskService, kiosk_id: str) -> bool:
    return any(k.id == kiosk_id for k in service.section.kiosks)


@requires(Role.TECHNICIAN, Role.SUPERVISOR, Role.KIOSK)
async def list_kiosks(request: web.Request) -> web.Response:
    """Every configured kiosk with a summary: ok, degraded (some peripheral has a problem) or unknown."""
    service = request.app[KIOSKS_KEY]
    items: list[dict[str, Any]] = []
    for kiosk in service.section.kiosks:
        devices = _kiosk(service, kiosk.id)
        if devices is None:
            items.append({"id": kiosk.id, "status": "unknown", "devices": {}, "problems": []})
            continue
        problems = [{"peripheral": kind, **d["problem"]} for kind, d in devices.items() if d["problem"]]
        items.append(
            {
                "id": kiosk.id,
                "status": "degraded" if problems else "ok",
                "devices": {kind: d["device"] for kind, d in devices.items()},
                "problems": problems,
            }
        )
    return web.json_response({"items": items})


@requires(Role.TECHNICIAN, Role.SUPERVISOR, Role.KIOSK)
async def kiosk_devices(request: web.Request) -> web.Response:
    service = request.app[KIOSKS_KEY]
    kiosk_id = request.match_info["kiosk_id"]
    if not _known(service, kiosk_id):
        raise ProblemError(
            404, "unknown-kiosk", f"no kiosk {kiosk_id[:40]!r} is configured on this station", kiosk=kiosk_id[:40]
        )
    devices = _kiosk(service, kiosk_id)
    if devices is None:
        raise ProblemError(503, "kiosk-service-unavailable", "the kiosk service is starting or restarting; retry")
    return web.json_response({"kiosk": kiosk_id, "devices": devices})


def add_routes(app: web.Application) -> None:
    """Needs ``app[KIOSKS_KEY]``; ``route_adder`` sets it."""
    app.router.add_get("/api/v1/kiosks", list_kiosks)
    app.router.add_get("/api/v1/kiosks/{kiosk_id}/devices", kiosk_devices)


def route_adder(service: KioskService) -> Callable[[web.Application], None]:
    def add(app: web.Application) -> None:
        app[KIOSKS_KEY] = service
        add_routes(app)

    return add
