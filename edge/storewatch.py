"""The store's health as an alert: raised when writes start failing (disk full, I/O error), cleared
when one commits again.

The store reports from its writer thread; this hops to the event loop. While the store is down the
alert bus cannot store the alert either: it publishes it at once and holds it in memory until the
store takes writes again (``edge.alerts``). /readyz reads the store's state directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from edge.alerts import Alert, AlertBus, Severity

log = logging.getLogger(__name__)

ALERT_KEY = "store.write_failing:station"


class StoreWatch:
    def __init__(self, alerts: AlertBus) -> None:
        self._alerts = alerts
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def notify(self, error: str | None) -> None:
        """Store callback (writer thread): ``error`` is None once writes succeed again."""
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # loop closed: the process is ending
            loop.call_soon_threadsafe(self._changed, error)

    def _changed(self, error: str | None) -> None:
        task = asyncio.create_task(self._alert(error), name="store.health_alert")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _alert(self, error: str | None) -> None:
        try:
            if error is None:
                await self._alerts.clear_alert(ALERT_KEY, "store writes succeed again")
            else:
                await self._alerts.raise_alert(Alert(
                    ALERT_KEY, "store.write_failing", Severity.CRITICAL, "station",
                    "station database cannot be written: intake is held until it can", {"error": error[:500]}))
        except Exception:
            log.exception("store health alert not raised")
