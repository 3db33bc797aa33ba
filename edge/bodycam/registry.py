"""The live device registry: latest state per camera in memory, and what each change calls for.

Pure and synchronous: callers pass the gateway time in; methods return ``Action`` values (alerts to raise
or clear, time syncs to send) that the service carries out. An alert is asked for only when its state
changes, so the telemetry path (thousands of messages a second) never touches the alert bus in steady state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edge.alerts import Alert, Severity
from edge.bodycam.clock import ClockOffsetEstimator
from edge.bodycam.config import BodycamConfig
from edge.bodycam.payloads import StatusPayload, TelemetryPayload
from edge.bodycam.sequence import status_supersedes
from edge.timeutil import to_iso


@dataclass(frozen=True, slots=True)
class RaiseAlert:
    alert: Alert


@dataclass(frozen=True, slots=True)
class ClearAlert:
    key: str
    reason: str


@dataclass(frozen=True, slots=True)
class SendTimeSync:
    device_id: str
    offset_ms: int


Action = RaiseAlert | ClearAlert | SendTimeSync


@dataclass
class DeviceState:
    device_id: str
    serial: str
    model: str
    officer_no: str | None = None
    officer_name: str | None = None
    online: bool = False
    offline_reason: str | None = None
    status: StatusPayload | None = None
    last_seen: datetime | None = None  # gateway clock, any accepted message
    last_device_ts: datetime | None = None
    # The latest telemetry, kept as received and rendered only when asked for (the API, the persisted
    # snapshot): the hot path must not format three timestamps per message for a view read once a second.
    latest: tuple[TelemetryPayload, datetime] | None = None
    restored_telemetry: dict[str, Any] | None = None  # from the persisted snapshot until the next message
    sos: bool = False
    docked: bool | None = None
    recording: bool | None = None
    clock: ClockOffsetEstimator = field(default_factory=ClockOffsetEstimator)
    raised: dict[str, Severity] = field(default_factory=dict)  # alert key -> severity we raised
    last_time_sync: datetime | None = None
    # Gateway time since when the smoothed offset has been beyond the bound, and messages since then.
    drift_since: datetime | None = None
    drift_samples: int = 0

    @property
    def subject(self) -> str:
        return f"device:{self.device_id}"

    @property
    def telemetry(self) -> dict[str, Any] | None:
        if self.latest is None:
            return self.restored_telemetry
        t, received_at = self.latest
        gps = None if t.gps is None else {"lat": t.gps.lat, "lon": t.gps.lon, "accuracy_m": t.gps.accuracy_m,
                                          "fix_at": to_iso(t.gps.fix_at)}
        return {"gps": gps, "battery_pct": t.battery_pct, "storage_free_mb": t.storage_free_mb,
                "recording": t.recording, "signal_dbm": t.signal_dbm, "device_ts": to_iso(t.ts),
                "received_at": to_iso(received_at)}

    def clock_offset_ms(self) -> int | None:
        offset = self.clock.offset_s
        return None if offset is None else round(offset * 1000)

    def snapshot(self) -> dict[str, Any]:
        """The API's and the persisted view (JSON-ready)."""
        return {
            "device_id": self.device_id, "serial": self.serial, "model": self.model,
            "officer_no": self.officer_no, "officer_name": self.officer_name,
            "online": self.online, "offline_reason": self.offline_reason,
            "session": None if self.status is None else self.status.session,
            "fw": None if self.status is None else self.status.fw,
            "last_seen": None if self.last_seen is None else to_iso(self.last_seen),
            "last_device_ts": None if self.last_device_ts is None else to_iso(self.last_device_ts),
            "telemetry": self.telemetry, "sos": self.sos, "docked": self.docked, "recording": self.recording,
            "clock_offset_ms": self.clock_offset_ms(),
            "alerts": sorted(self.raised),
        }


class Registry:
    def __init__(self, config: BodycamConfig) -> None:
        self.config = config
        self.devices: dict[str, DeviceState] = {}

    def _alert(self, dev: DeviceState, name: str, severity: Severity, message: str,
               **details: Any) -> list[Action]:
        key = f"bodycam.{name}:{dev.device_id}"
        if dev.raised.get(key) == severity:
            return []
        dev.raised[key] = severity
        facts = {"device_id": dev.device_id, "officer_no": dev.officer_no, **details}
        return [RaiseAlert(Alert(key, f"bodycam.{name}", severity, dev.subject, message, facts))]

    def _clear(self, dev: DeviceState, name: str, reason: str) -> list[Action]:
        key = f"bodycam.{name}:{dev.device_id}"
        if dev.raised.pop(key, None) is None:
            return []
        return [ClearAlert(key, reason)]

    def seen(self, dev: DeviceState, device_ts: datetime, received_at: datetime, *, newest: bool) -> None:
        dev.last_seen = max(dev.last_seen or received_at, received_at)
        if newest:
            dev.last_device_ts = device_ts

    def apply_status(self, dev: DeviceState, status: StatusPayload, received_at: datetime) -> list[Action]:
        if not status_supersedes(dev.status, status):
            return []
        dev.status = status
        if status.state == "online":
            dev.online, dev.offline_reason = True, None
            return self._clear(dev, "offline", "back online")
        dev.online = False
        dev.offline_reason = "last will" if status.will else "signed off"
        if not status.will:  # docking or a clean shutdown: expected, no alarm
            return self._clear(dev, "offline", "signed off cleanly")
        return self._alert(dev, "offline", Severity.WARNING, f"{dev.device_id} lost its connection (last will)",
                           device_ts=to_iso(status.ts), reason="last_will")

    def mark_alive(self, dev: DeviceState) -> list[Action]:
        """A message arrived from a device we thought offline by heartbeat: it is back."""
        if dev.online or dev.offline_reason != "heartbeat timeout":
            return []
        dev.online, dev.offline_reason = True, None
        return self._clear(dev, "offline", "messages resumed")

    def apply_telemetry(self, dev: DeviceState, t: TelemetryPayload, received_at: datetime) -> list[Action]:
        dev.latest = (t, received_at)
        dev.recording = t.recording
        c = self.config
        # Steady state (nothing low, nothing raised) returns without building a message or an action.
        actions: list[Action] = []
        if t.battery_pct <= c.battery_warning_pct + 5 or dev.raised:
            actions = self._level(dev, "battery_low", t.battery_pct, c.battery_warning_pct,
                                  c.battery_critical_pct, 5, f"battery {t.battery_pct} %", battery_pct=t.battery_pct)
        storage_hysteresis = max(c.storage_warning_mb // 10, 1)
        if t.storage_free_mb <= c.storage_warning_mb + storage_hysteresis or dev.raised:
            actions += self._level(dev, "storage_low", t.storage_free_mb, c.storage_warning_mb,
                                   c.storage_critical_mb, storage_hysteresis, f"{t.storage_free_mb} MB storage free",
                                   storage_free_mb=t.storage_free_mb)
        return actions

    def _level(self, dev: DeviceState, name: str, value: int, warning: int, critical: int, hysteresis: int,
               message: str, **details: Any) -> list[Action]:
        key = f"bodycam.{name}:{dev.device_id}"
        if value <= critical:
            return self._alert(dev, name, Severity.CRITICAL, f"{dev.device_id}: {message}", **details)
        if value <= warning:
            if dev.raised.get(key) == Severity.CRITICAL and value <= critical + hysteresis:
                return []  # no flapping between levels around the threshold
            return self._alert(dev, name, Severity.WARNING, f"{dev.device_id}: {message}", **details)
        if key in dev.raised and value > warning + hysteresis:
            return self._clear(dev, name, f"{message} again")
        return []

    def observe_clock(self, dev: DeviceState, device_ts: datetime, received_at: datetime) -> list[Action]:
        """Feed the device's offset estimator; alert and time_sync only on persistent drift.

        Delay in the network, in the broker's queue or in a camera's outage buffer makes messages look
        like they come from a clock that is behind, for as long as the backlog drains. Drift is therefore
        declared only when the smoothed offset stayed beyond the bound for ``clock_drift_persist_s`` of
        gateway time and ``clock_drift_min_samples`` messages; it clears below ``clock_drift_clear_s``
        (hysteresis); time_sync goes out at most once per ``time_sync_interval_s`` per device.
        """
        dev.clock.add(device_ts, received_at)
        offset = dev.clock.offset_s
        if offset is None:
            return []
        c = self.config
        magnitude = abs(offset)
        if magnitude > c.clock_drift_bound_s:
            if dev.drift_since is None:
                dev.drift_since, dev.drift_samples = received_at, 0
            dev.drift_samples += 1
            if dev.drift_samples < c.clock_drift_min_samples or received_at - dev.drift_since < c.clock_drift_persist:
                return []
            ms = round(offset * 1000)
            actions = self._alert(dev, "clock_drift", Severity.WARNING,
                                  f"{dev.device_id} clock is {ms / 1000:+.1f} s off", offset_ms=ms)
            if dev.last_time_sync is None or received_at - dev.last_time_sync >= c.time_sync_interval:
                dev.last_time_sync = received_at
                actions.append(SendTimeSync(dev.device_id, ms))
            return actions
        dev.drift_since, dev.drift_samples = None, 0
        if dev.raised and magnitude <= c.clock_drift_clear.total_seconds():
            return self._clear(dev, "clock_drift", "clock back within bound")
        return []

    def check_heartbeats(self, now: datetime) -> list[Action]:
        actions: list[Action] = []
        limit = self.config.heartbeat_timeout
        for dev in self.devices.values():
            if dev.online and dev.last_seen is not None and now - dev.last_seen > limit:
                dev.online, dev.offline_reason = False, "heartbeat timeout"
                actions += self._alert(dev, "offline", Severity.WARNING,
                                       f"{dev.device_id} silent for {limit.total_seconds():.0f} s",
                                       reason="heartbeat_timeout", last_seen=to_iso(dev.last_seen))
        return actions
