"""The kiosk domain as one supervised service: every configured kiosk's peripheral drivers."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from edge.kiosk.config import KioskSection
from edge.kiosk.device import DeviceStatus
from edge.kiosk.factory import KioskPeripherals
from edge.supervisor import Service

log = logging.getLogger(__name__)


def status_json(status: DeviceStatus) -> dict[str, str]:
    """Shape for /api/v1/kiosks/{id}/devices and for alerts."""
    return {"device": status.device.value, "media": status.media.value, "detail": status.detail}


class KioskService(Service):
    name = "kiosk"

    def __init__(
        self, section: KioskSection, on_status: Callable[[str, str, DeviceStatus], None] | None = None
    ) -> None:
        """``on_status(kiosk_id, kind, status)`` is called on every change (alerts, metrics)."""
        self.section = section
        self.kiosks: dict[str, KioskPeripherals] = {}
        self._on_status = on_status
        self._stack = contextlib.AsyncExitStack()

    def _forward(self, kiosk_id: str, status: DeviceStatus) -> None:
        if self._on_status is not None:
            self._on_status(kiosk_id, status.kind, status)

    async def __aenter__(self) -> Self:
        await self._stack.__aenter__()
        try:
            for kiosk in self.section.kiosks:
                peripherals = KioskPeripherals(kiosk.id, kiosk.peripherals, self._forward)
                self.kiosks[kiosk.id] = await self._stack.enter_async_context(peripherals)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()
        self.kiosks.clear()

    def devices(self, kiosk_id: str) -> dict[str, Any] | None:
        kiosk = self.kiosks.get(kiosk_id)
        if kiosk is None:
            return None
        return {kind: status_json(s) for kind, s in kiosk.statuses().items()}
