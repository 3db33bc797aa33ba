"""How the kiosk domain plugs into the station (kept here so daemon.py only calls ``build``)."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

from edge.kiosk.config import KioskSection
from edge.kiosk.health import KioskHealth
from edge.kiosk.routes import route_adder
from edge.kiosk.service import KioskService
from edge.station_parts import StationParts

# Status changes only arrive on a change; by now every peripheral has tried to open its port once, so
# a device absent since start-up gets its alert (see KioskHealth.evaluate).
SETTLE_S = 3.0


class DaemonKioskService(KioskService):
    """The kiosk drivers plus their health glue: gauges from the start, alerts drained at shutdown."""

    def __init__(self, section: KioskSection, health: KioskHealth, *, settle_s: float = SETTLE_S) -> None:
        super().__init__(section, on_status=health.on_status)
        self.health = health
        self.settle_s = settle_s

    async def __aenter__(self) -> Self:
        self.health.accepting = True
        await super().__aenter__()
        self.health.bind(self.kiosks)
        return self

    async def serve(self) -> None:
        await asyncio.sleep(self.settle_s)
        self.health.evaluate(self.kiosks)
        await super().serve()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Closing our own ports is not an unplug: no alerts for it, but finish the ones already queued.
        self.health.accepting = False
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:
            await self.health.drain()


def build(parts: StationParts, section: KioskSection) -> DaemonKioskService:
    """Create the service with its metrics and alerts, and register the HTTP routes."""
    service = DaemonKioskService(section, KioskHealth(parts.metrics, parts.alerts))
    parts.add_routes(route_adder(service))
    return service
