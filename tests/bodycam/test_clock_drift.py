"""Clock-drift hysteresis: delayed backlogs do not alert, persistent drift does, time_sync is rate-limited.

The pure registry tests walk gateway time forward explicitly; the broker tests go through the real broker
and the running daemon with crafted payloads (short persistence so that they run in seconds).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from support.bodycam import Cam, Station, envelope, online, telemetry

from edge.bodycam.config import BodycamConfig
from edge.bodycam.registry import ClearAlert, DeviceState, RaiseAlert, Registry, SendTimeSync

T0 = datetime(2024, 6, 1, tzinfo=UTC)
KEY = "bodycam.clock_drift:cam-0001"


def _registry(**config: float) -> tuple[Registry, DeviceState]:
    registry = Registry(BodycamConfig(**config))  # type: ignore[arg-type]
    dev = registry.devices["cam-0001"] = DeviceState("cam-0001", "BW00001", "bench")
    return registry, dev


def _feed(registry: Registry, dev: DeviceState, start_s: float, seconds: float, every_s: float,
          offset_s: float, delay_s: float = 0.05) -> list[object]:
    """A camera sending every ``every_s`` with its clock ``offset_s`` off; returns the actions asked for."""
    actions: list[object] = []
    t = start_s
    while t < start_s + seconds:
        sent = T0 + timedelta(seconds=t)
        actions += registry.observe_clock(dev, sent + timedelta(seconds=offset_s), sent + timedelta(seconds=delay_s))
        t += every_s
    return actions


def test_broker_queue_backlog_with_a_steady_delay_does_not_alert() -> None:
    registry, dev = _registry()
    assert _feed(registry, dev, 0, 120, 1.0, 0.0) == []
    # 30 s of a broker queue: every message of this camera arrives 20 s late (they agree with each other,
    # as a clock step would), then the queue has drained and messages are live again.
    actions = _feed(registry, dev, 120, 30, 0.05, 0.0, delay_s=20.0)
    actions += _feed(registry, dev, 150, 120, 1.0, 0.0)
    assert actions == []
    assert dev.clock_offset_ms() is not None and abs(dev.clock_offset_ms() or 0) < 100


def test_backlog_flushed_after_an_outage_does_not_alert() -> None:
    registry, dev = _registry()
    _feed(registry, dev, 0, 60, 1.0, 0.0)
    back = T0 + timedelta(seconds=600)
    actions = [a for k in range(54) for a in registry.observe_clock(
        dev, T0 + timedelta(seconds=60 + 10 * k), back + timedelta(milliseconds=10 * k))]
    actions += _feed(registry, dev, 601, 120, 1.0, 0.0)
    assert actions == []


def test_persistent_drift_alerts_once_and_time_sync_is_rate_limited() -> None:
    registry, dev = _registry(clock_drift_persist_s=60, time_sync_interval_s=600)
    _feed(registry, dev, 0, 30, 1.0, 0.0)
    early = _feed(registry, dev, 30, 59, 1.0, -8.0)  # drifted, not yet for 60 s
    assert early == []
    actions = _feed(registry, dev, 89, 25 * 60, 1.0, -8.0)
    raised = [a for a in actions if isinstance(a, RaiseAlert)]
    syncs = [a for a in actions if isinstance(a, SendTimeSync)]
    assert len(raised) == 1 and raised[0].alert.key == KEY
    assert len(syncs) == 3  # at 60 s of drift, then every 10 minutes while it lasts
    assert all(-8100 < s.offset_ms < -7900 for s in syncs)


def test_alert_clears_with_hysteresis() -> None:
    registry, dev = _registry(clock_drift_bound_s=3, clock_drift_clear_s=1, clock_drift_persist_s=10)
    _feed(registry, dev, 0, 20, 1.0, 0.0)
    assert any(isinstance(a, RaiseAlert) for a in _feed(registry, dev, 20, 30, 1.0, 5.0))
    # Stepped back to 2 s: within the bound but not within the clear level: still raised.
    assert not any(isinstance(a, ClearAlert) for a in _feed(registry, dev, 50, 30, 1.0, 2.0))
    assert KEY in dev.raised
    cleared = _feed(registry, dev, 80, 30, 1.0, -0.5)  # a step the estimator follows (> 2 s back)
    assert [a for a in cleared if isinstance(a, ClearAlert)] == [ClearAlert(KEY, "clock back within bound")]


def test_clear_level_must_be_below_the_bound() -> None:
    with pytest.raises(ValueError, match="hysteresis"):
        BodycamConfig(clock_drift_bound_s=3, clock_drift_clear_s=3)


# -- through the real broker ------------------------------------------------------------------------

FAST = {"clock_drift_persist_s": 1.5, "clock_drift_min_samples": 3, "time_sync_interval_s": 60}


async def _camera(station: Station) -> Cam:
    secret = await station.enrol("cam-0001", "BW00001")
    cam = station.cam("cam-0001", secret)
    will = {**envelope("cam-0001", 0), "state": "offline", "session": 1, "will": True}
    await asyncio.to_thread(cam.start, ("bwc/cam-0001/status", json.dumps(will).encode()))
    await asyncio.to_thread(cam.subscribe, "bwc/cam-0001/cmd/#")
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/status", online("cam-0001", 1), retain=True)
    return cam


async def _send(cam: Cam, seq: int, ts: datetime) -> None:
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/telemetry", telemetry("cam-0001", seq, ts=ts))


async def _drift_alerts(station: Station) -> list[dict[str, object]]:
    return await station.daemon.store.read(lambda q: q.all("SELECT key, cleared_at FROM alerts WHERE kind = ?",
                                                           ("bodycam.clock_drift",)))


@pytest.mark.parametrize("station", [FAST], indirect=True)
async def test_delayed_backlog_through_the_broker_raises_no_drift(station: Station) -> None:
    cam = await _camera(station)
    seq = 2
    for _ in range(5):
        await _send(cam, seq, datetime.now(UTC))
        seq += 1
        await asyncio.sleep(0.05)
    # A queue drained at once: 40 messages all 20 s late (as a stuck broker session delivers them), then
    # an outage buffer: 30 messages from the last five minutes.
    late = datetime.now(UTC) - timedelta(seconds=20)
    for k in range(40):
        await _send(cam, seq, late + timedelta(milliseconds=25 * k))
        seq += 1
    buffered = datetime.now(UTC) - timedelta(minutes=5)
    for k in range(30):
        await _send(cam, seq, buffered + timedelta(seconds=10 * k))
        seq += 1
    for _ in range(25):  # live again, for longer than the persistence
        await _send(cam, seq, datetime.now(UTC))
        seq += 1
        await asyncio.sleep(0.1)
    bodycam = station.daemon.bodycam
    assert bodycam is not None
    await station.wait_for(lambda: bodycam.batcher.pending == 0)
    assert await _drift_alerts(station) == []
    assert not [t for t, _ in cam.received if t.endswith("/time_sync")]
    offset = bodycam.registry.devices["cam-0001"].clock_offset_ms()
    assert offset is not None and abs(offset) < 1000


@pytest.mark.parametrize("station", [FAST], indirect=True)
async def test_persistent_drift_alerts_sends_one_time_sync_then_clears(station: Station) -> None:
    cam = await _camera(station)
    seq = 2
    ahead = timedelta(seconds=30)
    for _ in range(30):  # 3 s of a clock 30 s ahead: persistent, two persistence periods long
        await _send(cam, seq, datetime.now(UTC) + ahead)
        seq += 1
        await asyncio.sleep(0.1)
    await station.wait_for(lambda: cam.received)
    async with asyncio.timeout(30):  # the alert's commit may land after the time_sync went out
        while not (alerts := await _drift_alerts(station)):
            await asyncio.sleep(0.02)
    assert [a["key"] for a in alerts] == [KEY] and alerts[0]["cleared_at"] is None
    await asyncio.sleep(0.3)
    syncs = [json.loads(p) for t, p in cam.received if t == "bwc/cam-0001/cmd/time_sync"]
    assert len(syncs) == 1, "at most one time_sync per time_sync_interval_s"
    assert 29_000 < syncs[0]["measured_offset_ms"] < 31_000
    for _ in range(5):  # the camera applied it: back on time
        await _send(cam, seq, datetime.now(UTC))
        seq += 1
    async with asyncio.timeout(30):
        while (await _drift_alerts(station))[0]["cleared_at"] is None:
            await asyncio.sleep(0.05)
