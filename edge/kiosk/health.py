"""Kiosk peripheral health for the daemon: status metrics, completion counters, degraded/recovered alerts.

Driver status callbacks are synchronous and arrive in order; alerts are asynchronous store writes. Each
peripheral gets its own chain of alert tasks (each awaits the one before), so a quick "paper out, paper
full" can never be recorded as "full, out"; ``drain()`` awaits every chain before the store closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from edge.alerts import Alert, AlertBus, Severity
from edge.kiosk.device import Completion, DeviceState, DeviceStatus, MediaState
from edge.kiosk.factory import KioskPeripherals
from edge.kiosk.service import status_json
from edge.metrics import Metrics

log = logging.getLogger(__name__)

ALERT_KIND = "kiosk.device_degraded"


def alert_key(kiosk_id: str, peripheral: str) -> str:
    return f"kiosk:{kiosk_id}/{peripheral}"


@dataclass(frozen=True, slots=True)
class Condition:
    severity: Severity
    message: str


def condition(peripheral: str, status: DeviceStatus) -> Condition | None:
    """What is wrong with a peripheral, if anything (None: healthy). BUSY is handled by the caller."""
    detail = f" ({status.detail})" if status.detail else ""
    if status.device is DeviceState.NO_DEVICE:
        return Condition(Severity.CRITICAL, f"{peripheral} not connected{detail}")
    if status.device is DeviceState.HARDWARE_ERROR or status.media is MediaState.PAPER_JAMMED:
        return Condition(Severity.CRITICAL, f"{peripheral} hardware error{detail}")
    # Paper out makes the printer report offline; say why, at the severity of a supply problem.
    if status.media is MediaState.PAPER_OUT:
        return Condition(Severity.WARNING, f"{peripheral} out of paper{detail}")
    if status.device is DeviceState.OFFLINE:
        return Condition(Severity.WARNING, f"{peripheral} offline{detail}")
    if status.media is MediaState.PAPER_LOW:
        return Condition(Severity.INFO, f"{peripheral} paper low{detail}")
    return None


class KioskHealth:
    """Receives every status change of every kiosk peripheral (``on_status``) and completion (``bind``)."""

    def __init__(self, metrics: Metrics, alerts: AlertBus | None) -> None:
        self._alerts = alerts
        self._device_state = metrics.gauge(
            "station_edge_kiosk_device_state",
            "1 for the peripheral's current device state, 0 for the others",
            ["kiosk", "peripheral", "state"],
        )
        self._media_state = metrics.gauge(
            "station_edge_kiosk_media_state",
            "1 for the peripheral's current media/supply state, 0 for the others",
            ["kiosk", "peripheral", "state"],
        )
        self._changes = metrics.counter(
            "station_edge_kiosk_status_changes", "Status changes pushed by a peripheral", ["kiosk", "peripheral"]
        )
        self._operations = metrics.counter(
            "station_edge_kiosk_operations",
            "Completed peripheral operations by completion code",
            ["kiosk", "peripheral", "operation", "completion"],
        )
        self._chains: dict[str, asyncio.Task[None]] = {}
        self.accepting = True  # False while stopping: drivers closing their ports are not "unplugged"

    # -- wiring ----------------------------------------------------------------------------------------
    def bind(self, kiosks: Mapping[str, KioskPeripherals]) -> None:
        """Publish the current state of every peripheral and count its operations from now on."""
        for kiosk_id, peripherals in kiosks.items():
            for kind, driver in peripherals.drivers.items():
                self._set_gauges(kiosk_id, kind.value, driver.status)
                driver.on_completion(CompletionCounter(self, kiosk_id, kind.value))

    def count(self, kiosk_id: str, peripheral: str, operation: str, completion: Completion) -> None:
        self._operations.labels(kiosk_id, peripheral, operation, completion.value).inc()

    def evaluate(self, kiosks: Mapping[str, KioskPeripherals]) -> None:
        """Settle alerts once after start-up for peripherals that have not reported yet.

        Changes only arrive on a change, and a device whose port never opened stays in its initial
        ``no_device`` without ever pushing one. A port that did open gets polled at once, and that answer
        (or its timeout) arrives as a change, so those are left to ``on_status``.
        """
        for kiosk_id, peripherals in kiosks.items():
            for kind, driver in peripherals.drivers.items():
                if not driver.link.connected:
                    self._schedule_alert(kiosk_id, kind.value, driver.status)

    # -- status changes (sync, from the drivers) -------------------------------------------------------
    def on_status(self, kiosk_id: str, peripheral: str, status: DeviceStatus) -> None:
        self._changes.labels(kiosk_id, peripheral).inc()
        self._set_gauges(kiosk_id, peripheral, status)
        if self.accepting:
            self._schedule_alert(kiosk_id, peripheral, status)

    def _set_gauges(self, kiosk_id: str, peripheral: str, status: DeviceStatus) -> None:
        for state in DeviceState:
            self._device_state.labels(kiosk_id, peripheral, state.value).set(1 if state is status.device else 0)
        for media in MediaState:
            self._media_state.labels(kiosk_id, peripheral, media.value).set(1 if media is status.media else 0)

    def _schedule_alert(self, kiosk_id: str, peripheral: str, status: DeviceStatus) -> None:
        if self._alerts is None or status.device is DeviceState.BUSY:
            return  # busy means it answered and is working: the state after the operation decides
        key = alert_key(kiosk_id, peripheral)
        previous = self._chains.get(key)
        task = asyncio.get_running_loop().create_task(
            self._apply(previous, kiosk_id, peripheral, status), name=f"kiosk.alert[{kiosk_id}/{peripheral}]"
        )
        self._chains[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))

    def _forget(self, key: str, task: asyncio.Task[None]) -> None:
        if self._chains.get(key) is task:
            del self._chains[key]

    async def _apply(
        self, previous: asyncio.Task[None] | None, kiosk_id: str, peripheral: str, status: DeviceStatus
    ) -> None:
        if previous is not None:
            # Order per peripheral: wait for the earlier change; its failure is already logged.
            with contextlib.suppress(Exception):
                await asyncio.shield(previous)
        assert self._alerts is not None
        key = alert_key(kiosk_id, peripheral)
        found = condition(peripheral, status)
        try:
            if found is None:
                await self._alerts.clear_alert(
                    key, f"{peripheral} recovered: {status.device.value}, {status.media.value}"
                )
            else:
                details = {"kiosk": kiosk_id, "peripheral": peripheral, **status_json(status)}
                await self._alerts.raise_alert(
                    Alert(
                        key,
                        ALERT_KIND,
                        found.severity,
                        f"kiosk:{kiosk_id}",
                        f"kiosk {kiosk_id}: {found.message}",
                        details,
                    )
                )
        except Exception:  # an alert that cannot be stored must not stop the next one
            log.exception("kiosk %s %s: alert not recorded", kiosk_id, peripheral)

    async def drain(self) -> None:
        """Wait for every queued alert (shutdown: before the store closes)."""
        while self._chains:
            await asyncio.gather(*self._chains.values(), return_exceptions=True)


@dataclass(frozen=True, slots=True)
class CompletionCounter:
    health: KioskHealth
    kiosk_id: str
    peripheral: str

    def __call__(self, operation: str, completion: Completion) -> None:
        self.health.count(self.kiosk_id, self.peripheral, operation, completion)
