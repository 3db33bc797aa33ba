"""Registry, telemetry, events and bad input through the real broker and the running daemon."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from support.bodycam import Cam, Station, envelope, online, telemetry
from support.tokens import auth

from edge.config import Role
from edge.store import deadletter, outbox
from edge.store import expected_footage as footage
from edge.store.outbox import Priority


async def _camera(station: Station, device_id: str = "cam-0001", serial: str = "BW00001") -> Cam:
    secret = await station.enrol(device_id, serial)
    cam = station.cam(device_id, secret)
    will = {**envelope(device_id, 0), "state": "offline", "session": 1, "will": True}
    assert (await asyncio.to_thread(cam.start, (f"bwc/{device_id}/status", json.dumps(will).encode()))).value == 0
    await asyncio.to_thread(cam.publish, f"bwc/{device_id}/status", online(device_id, 1, serial=serial), retain=True)
    return cam


async def _dead(station: Station, reason: str) -> list[dict]:
    async def rows() -> list[dict]:
        return await station.daemon.store.read(lambda q: deadletter.recent(q, reason=reason))

    async with asyncio.timeout(30):
        while not (found := await rows()):
            await asyncio.sleep(0.02)
    return found


async def test_sos_alert_is_published_and_queued_critical(station: Station) -> None:
    """The 100 ms bound is measured in bench/sos_latency.py: a wall-clock bound here fails on a busy CI machine."""
    cam = await _camera(station)
    alerts = station.cam("station-edge", "daemon-password-0123456789", client_id="supervisor-screen")
    await asyncio.to_thread(alerts.start)
    await asyncio.to_thread(alerts.subscribe, f"edge/{station.config.station.id}/alerts")
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/event", {**envelope("cam-0001", 2), "event": "sos", "gps": None})
    got = await station.wait_for(lambda: [json.loads(p) for _, p in alerts.received])
    assert got[0]["kind"] == "bodycam.sos" and got[0]["severity"] == "critical" and got[0]["state"] == "raised"
    assert datetime.fromisoformat(got[0]["details"]["received_at"]) <= alerts.arrived[0]
    # Published before the durable write (SOS first); the event, alert and outbox rows commit just after.
    async with asyncio.timeout(30):
        while (await station.daemon.store.read(outbox.counts)).get("pending", {}).get(
                Priority.CRITICAL.name.lower(), 0) < 1:
            await asyncio.sleep(0.02)
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/event", {**envelope("cam-0001", 4), "event": "sos_clear"})
    await station.wait_for(lambda: len(alerts.received) >= 2)
    assert json.loads(alerts.received[1][1])["state"] == "cleared"


async def test_bad_input_is_dead_lettered_with_its_reason(station: Station) -> None:
    cam = await _camera(station)
    good = telemetry("cam-0001", 10)
    cases = {
        "invalid_json": b'{"v": 1, "device_id": ',
        "schema_violation": json.dumps({**telemetry("cam-0001", 11), "battery_pct": "80"}).encode(),
        "oversized": json.dumps({**telemetry("cam-0001", 12), "pad": "x" * 2000}).encode(),
        "topic_mismatch": json.dumps({**telemetry("cam-0001", 13), "device_id": "cam-0002"}).encode(),
        "timestamp_out_of_range": json.dumps(telemetry("cam-0001", 14, ts=datetime(2099, 1, 1, tzinfo=UTC))).encode(),
    }
    for payload in cases.values():
        await asyncio.to_thread(cam.publish, "bwc/cam-0001/telemetry", payload)
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/telemetry", good)
    for reason in cases:
        rows = await _dead(station, reason)
        assert rows[0]["channel"] == "bwc/cam-0001/telemetry"
    bodycam = station.daemon.bodycam
    assert bodycam is not None
    await station.wait_for(lambda: bodycam.registry.devices["cam-0001"].telemetry)
    assert station.daemon.link is not None and station.daemon.link.connected


async def test_unknown_device_is_dead_lettered(station: Station) -> None:
    bodycam = station.daemon.bodycam
    assert bodycam is not None
    # The broker's ACL already keeps unenrolled clients out; a device removed while connected (Mosquitto
    # keeps existing sessions on reload) still reaches the handler, which refuses it.
    cam = await _camera(station, "cam-0005", "BW00005")
    assert await station.enrolment.remove_device("cam-0005", actor="technician:test")
    await bodycam.reload_enrolment()
    await asyncio.to_thread(cam.publish, "bwc/cam-0005/telemetry", telemetry("cam-0005", 5))
    rows = await _dead(station, "unknown_device")
    assert "cam-0005" in rows[0]["detail"]


async def test_duplicates_change_nothing_and_out_of_order_is_flagged(station: Station) -> None:
    cam = await _camera(station)
    first = telemetry("cam-0001", 20, battery=70)
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/telemetry", first)
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/telemetry", first)  # a QoS 1 redelivery
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/telemetry", telemetry("cam-0001", 22, battery=60))
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/telemetry", telemetry("cam-0001", 21, battery=65))
    rows = await _dead(station, "duplicate")
    assert len(rows) == 1
    bodycam = station.daemon.bodycam
    assert bodycam is not None
    await station.wait_for(lambda: bodycam.batcher.pending == 0 and
                           bodycam.registry.devices["cam-0001"].telemetry["battery_pct"] == 60)
    async with asyncio.timeout(30):  # a ceiling on the batch's commit, not one batch interval
        while len(stored := await station.daemon.store.read(lambda q: q.all(
                "SELECT seq, flag, battery_pct FROM telemetry WHERE device_id = 'cam-0001' ORDER BY seq"))) < 3:
            await asyncio.sleep(0.05)
    assert stored == [{"seq": 20, "flag": "new", "battery_pct": 70}, {"seq": 21, "flag": "out_of_order",
                      "battery_pct": 65}, {"seq": 22, "flag": "new", "battery_pct": 60}]
    assert bodycam.registry.devices["cam-0001"].telemetry["battery_pct"] == 60, "late data never overwrites"


async def test_battery_and_storage_thresholds_raise_and_clear(station: Station) -> None:
    cam = await _camera(station)
    daemon = station.daemon

    async def active() -> set[str]:
        rows = await daemon.store.read(lambda q: q.all("SELECT kind, severity FROM alerts WHERE cleared_at IS NULL"))
        return {f"{r['kind']}/{r['severity']}" for r in rows}

    await asyncio.to_thread(cam.publish, "bwc/cam-0001/telemetry", telemetry("cam-0001", 2, battery=15, storage=500))
    async with asyncio.timeout(30):
        while await active() != {"bodycam.battery_low/warning", "bodycam.storage_low/critical"}:
            await asyncio.sleep(0.02)
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/telemetry", telemetry("cam-0001", 3, battery=90))
    async with asyncio.timeout(30):
        while await active():
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("station", [{"clock_drift_persist_s": 0.5, "clock_drift_min_samples": 3}], indirect=True)
async def test_clock_drift_alerts_and_sends_time_sync(station: Station) -> None:
    cam = await _camera(station)
    await asyncio.to_thread(cam.subscribe, "bwc/cam-0001/cmd/#")
    ahead = timedelta(seconds=30)
    for seq in range(2, 10):
        await asyncio.to_thread(cam.publish, "bwc/cam-0001/telemetry",
                                telemetry("cam-0001", seq, ts=datetime.now(UTC) + ahead))
        await asyncio.sleep(0.1)
    topic, payload = await station.wait_for(lambda: cam.received and cam.received[0])
    assert topic == "bwc/cam-0001/cmd/time_sync"
    assert 29_000 < json.loads(payload)["measured_offset_ms"] < 31_000
    async with asyncio.timeout(30):
        while len(rows := await station.daemon.store.read(lambda q: q.all(
                "SELECT device_ts, received_at, clock_offset_ms FROM telemetry WHERE device_id = 'cam-0001'"))) < 8:
            await asyncio.sleep(0.05)
    assert all(r["device_ts"] > r["received_at"] for r in rows), "both clocks stored as sent"


async def test_will_and_heartbeat_mark_offline(station: Station) -> None:
    cam = await _camera(station)
    bodycam = station.daemon.bodycam
    assert bodycam is not None
    dev = await station.wait_for(lambda: bodycam.registry.devices["cam-0001"].online
                                 and bodycam.registry.devices["cam-0001"])
    await asyncio.to_thread(cam.drop)
    await station.wait_for(lambda: not dev.online, timeout=30)
    assert dev.offline_reason == "last will"


@pytest.mark.parametrize("station", [{"heartbeat_timeout_s": 0.4}], indirect=True)
async def test_heartbeat_timeout_marks_offline(station: Station) -> None:
    await _camera(station)
    bodycam = station.daemon.bodycam
    assert bodycam is not None
    dev = bodycam.registry.devices["cam-0001"]
    await station.wait_for(lambda: dev.online)
    await station.wait_for(lambda: not dev.online, timeout=30)
    assert dev.offline_reason == "heartbeat timeout"


@pytest.mark.parametrize("station", [{"upload_deadline_h": 0.0001, "check_interval_s": 0.2}], indirect=True)
async def test_file_announcement_expects_footage_with_holds_and_overdue_warning(station: Station) -> None:
    cam = await _camera(station)
    now = datetime.now(UTC)
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/event",
                            {**envelope("cam-0001", 2, ts=now - timedelta(seconds=30)), "event": "sos", "gps": None})
    file = {**envelope("cam-0001", 3), "name": "BW00001_123456_20240601000430_0001.mp4",
            "start": (now - timedelta(minutes=2)).isoformat(), "end": now.isoformat(), "size_bytes": 1000,
            "sha256": "ab" * 32, "marked": False, "officer_no": "123456"}
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/file", file)
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/file", {**file, "seq": 4, "msg_id": "again"})
    store = station.daemon.store
    async with asyncio.timeout(30):
        while not (rows := await store.read(lambda q: footage.for_device(q, "cam-0001"))):
            await asyncio.sleep(0.02)
    assert len(rows) == 1 and rows[0]["hold_reason"] == "sos" and rows[0]["fulfilled_at"] is None
    async with asyncio.timeout(30):
        while not await store.read(lambda q: q.all("SELECT 1 FROM alerts WHERE kind = 'bodycam.footage_overdue'")):
            await asyncio.sleep(0.05)

    def fulfil(tx):  # what the footage ingest calls in its own transaction
        return footage.fulfil(tx, "cam-0001", file["name"], 1000, "ab" * 32, "footage-1")

    done = await store.write(fulfil)
    assert done is not None and not done["mismatch"] and done["hold_reason"] == "sos"
    async with asyncio.timeout(30):
        while await store.read(lambda q: q.all(
                "SELECT 1 FROM alerts WHERE kind = 'bodycam.footage_overdue' AND cleared_at IS NULL")):
            await asyncio.sleep(0.05)


async def test_track_api_validates_and_returns_fixes(station: Station) -> None:
    cam = await _camera(station)
    for seq in range(2, 5):
        await asyncio.to_thread(cam.publish, "bwc/cam-0001/telemetry", telemetry("cam-0001", seq, lat=22.5 + seq / 100))
    async with asyncio.timeout(30):  # a ceiling on the batch's commit, not one batch interval
        while len(await station.daemon.store.read(lambda q: q.all(
                "SELECT seq FROM telemetry WHERE device_id = 'cam-0001' AND seq BETWEEN 2 AND 4"))) < 3:
            await asyncio.sleep(0.05)
    base = f"{station.http}/api/v1/devices/cam-0001"
    async with aiohttp.ClientSession(headers=auth(Role.SUPERVISOR)) as http:
        span = {"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}
        async with http.get(f"{base}/track", params=span) as r:
            assert r.status == 200
            assert [round(f["lat"], 2) for f in (await r.json())["items"]] == [22.52, 22.53, 22.54]
        for params in ({"from": "yesterday", "to": "2100-01-01T00:00:00Z"}, {"from": "2000-01-01T00:00:00"},
                       {"from": "2100-01-01T00:00:00Z", "to": "2000-01-01T00:00:00Z"}):
            async with http.get(f"{base}/track", params=params) as r:
                assert r.status == 400 and r.content_type == "application/problem+json"
        async with http.get(f"{station.http}/api/v1/devices/cam-9999") as r:
            assert r.status == 404
        async with http.get(base) as r:
            detail = await r.json()
        assert detail["online"] and detail["telemetry"]["battery_pct"] == 80
