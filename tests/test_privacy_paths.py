"""A resident ID number quoted in an HTTP problem or a refused MQTT message never leaves masked-less."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from aiohttp import web
from support.bodycam import Cam, telemetry
from support.tokens import auth

from edge.alerts import Alert, Severity
from edge.broker import Broker
from edge.config import Config, Role
from edge.daemon import Daemon
from edge.web.auth import requires
from edge.web.problems import ProblemError

RESIDENT_ID = "11010519491231002X"
MASKED = "1101**********002X"


@requires(Role.TECHNICIAN)
async def refuse_with_members(request: web.Request) -> web.Response:
    raise ProblemError(422, "invalid-card", f"card {RESIDENT_ID} refused",
                       card={"holder": RESIDENT_ID, "seen": [RESIDENT_ID, 3]})


@pytest.fixture
async def daemon(mosquitto: Broker, make_config: Callable[..., Config]) -> AsyncIterator[Daemon]:
    daemon = Daemon(make_config(mosquitto, services={"mqtt": True, "bodycam": True}))
    daemon.extra_routes.append(lambda app: app.router.add_get("/api/v1/test/refuse", refuse_with_members))
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop))
    await asyncio.wait_for(daemon.ready.wait(), 30)
    assert daemon.link is not None
    await daemon.link.wait_connected(30)
    try:
        yield daemon
    finally:
        stop.set()
        assert await asyncio.wait_for(run, 30) == 0


def _base(daemon: Daemon) -> str:
    assert daemon.http is not None
    return f"http://127.0.0.1:{daemon.http.bound_port}"


async def test_problem_detail_and_extra_members_are_masked(daemon: Daemon) -> None:
    async with aiohttp.ClientSession() as http:
        # A real route quoting its input: enrolment refuses an ID number typed as a camera serial.
        async with http.post(f"{_base(daemon)}/api/v1/devices", headers=auth(Role.TECHNICIAN),
                             json={"device_id": "cam-0001", "serial": RESIDENT_ID}) as r:
            raw = await r.read()
            assert r.status == 422 and r.content_type == "application/problem+json"
        assert RESIDENT_ID.encode() not in raw and MASKED in json.loads(raw)["detail"]
        async with http.get(f"{_base(daemon)}/api/v1/test/refuse", headers=auth(Role.TECHNICIAN)) as r:
            raw = await r.read()
    body = json.loads(raw)
    assert RESIDENT_ID.encode() not in raw
    assert body["detail"] == f"card {MASKED} refused"
    assert body["card"] == {"holder": MASKED, "seen": [MASKED, 3]}


async def test_dead_letter_detail_channel_and_payload_copy_are_masked(daemon: Daemon, mosquitto: Broker) -> None:
    # A camera claiming an ID number as its device id, on another camera's topic: topic_mismatch, whose
    # detail quotes the claimed id; and a message on a topic that itself carries the number.
    payload = json.dumps(telemetry(RESIDENT_ID, 1)).encode()
    cam = Cam(mosquitto.config.port, None, None)
    assert cam.start().value == 0
    try:
        assert (await asyncio.to_thread(cam.publish, "bwc/cam-0001/telemetry", payload)).value == 0
        assert (await asyncio.to_thread(cam.publish, f"bwc/{RESIDENT_ID}/telemetry", b"{not json")).value == 0
    finally:
        cam.stop()
    async with asyncio.timeout(30):
        # Only this test's channels: the shared broker holds other tests' retained camera messages.
        while len(rows := await daemon.store.read(lambda q: q.all(
                "SELECT channel, reason, detail, payload, payload_size FROM dead_letter"
                " WHERE channel IN (?, ?) ORDER BY id", ("bwc/cam-0001/telemetry", f"bwc/{MASKED}/telemetry")))) < 2:
            await asyncio.sleep(0.05)
    mismatch, garbled = rows
    assert mismatch["reason"] == "topic_mismatch" and MASKED in mismatch["detail"]
    assert garbled["channel"] == f"bwc/{MASKED}/telemetry"
    for row in rows:
        assert RESIDENT_ID not in row["detail"] + row["channel"]
        assert RESIDENT_ID.encode() not in row["payload"]
    assert mismatch["payload"] == payload.replace(RESIDENT_ID.encode(), MASKED.encode())
    assert mismatch["payload_size"] == len(payload)
    async with aiohttp.ClientSession() as http, \
            http.get(f"{_base(daemon)}/api/v1/dead-letters", headers=auth(Role.TECHNICIAN)) as r:
        assert RESIDENT_ID.encode() not in await r.read()


async def test_an_alert_quoting_an_id_number_is_masked_in_the_store_the_outbox_and_the_api(daemon: Daemon) -> None:
    # What a kiosk or a parser might build from a device's text; raised and cleared by its raw key.
    key = f"kiosk.idcard:{RESIDENT_ID}"
    alert = Alert(key, "kiosk.device_degraded", Severity.WARNING, f"kiosk:{RESIDENT_ID}",
                  f"card {RESIDENT_ID} unreadable", {"card": {"holder": RESIDENT_ID}, "seen": [RESIDENT_ID]})
    assert await daemon.alerts.raise_alert(alert)
    assert await daemon.alerts.clear_alert(key, f"card {RESIDENT_ID} removed"), "the raw key finds the alert"
    stored = await daemon.store.read(lambda q: [
        *q.all("SELECT key, subject, message, details FROM alerts"),
        *q.all("SELECT message FROM alert_events"),
        *q.all("SELECT payload FROM outbox"),
    ])
    assert stored and RESIDENT_ID not in json.dumps(stored, default=str)
    assert any(MASKED in json.dumps(row, default=str) for row in stored)
    async with aiohttp.ClientSession() as http, \
            http.get(f"{_base(daemon)}/api/v1/alerts?state=all", headers=auth(Role.SUPERVISOR)) as r:
        raw = await r.read()
    assert r.status == 200 and RESIDENT_ID.encode() not in raw and MASKED.encode() in raw


async def test_dead_letters_stored_before_masking_are_masked_in_the_api_answer(daemon: Daemon) -> None:
    # A row as an older version wrote it: detail and channel unmasked.
    await daemon.store.write(lambda tx: tx.execute(
        "INSERT INTO dead_letter (at, source, channel, reason, detail, payload, payload_size)"
        " VALUES ('2026-01-01T00:00:00+00:00', 'mqtt', ?, 'schema_invalid', ?, NULL, 0)",
        (f"bwc/{RESIDENT_ID}/events", f"serial {RESIDENT_ID} is not a device id")))
    async with aiohttp.ClientSession() as http, \
            http.get(f"{_base(daemon)}/api/v1/dead-letters", headers=auth(Role.TECHNICIAN)) as r:
        raw = await r.read()
    assert r.status == 200 and RESIDENT_ID.encode() not in raw
    old = [row for row in json.loads(raw)["items"] if row["channel"] == f"bwc/{MASKED}/events"]
    assert [row["detail"] for row in old] == [f"serial {MASKED} is not a device id"]


async def test_a_problem_for_a_path_quoting_an_id_number_masks_its_instance(daemon: Daemon) -> None:
    async with aiohttp.ClientSession() as http:
        for path in (f"/api/v1/devices/{RESIDENT_ID}", f"/api/v1/no-such-route/{RESIDENT_ID}"):
            async with http.get(f"{_base(daemon)}{path}", headers=auth(Role.TECHNICIAN)) as r:
                raw = await r.read()
                assert r.status == 404 and r.content_type == "application/problem+json", raw
            assert RESIDENT_ID.encode() not in raw
            assert json.loads(raw)["instance"] == path.replace(RESIDENT_ID, MASKED)
