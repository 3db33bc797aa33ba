"""A full database disk never stalls intake for good: the database on a small real tmpfs, filled during
a 2,000-message QoS 1 stream (SOS included) through a real Mosquitto, then freed. Meanwhile /readyz
names the store, the store alert goes out from memory, SOS alerts still reach supervisors, and the
link forces redeliveries; afterwards every message is stored exactly once or dead-lettered with its
reason, with no restart."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from support.bodycam import envelope, telemetry
from support.processes import fill

from edge.broker import Broker
from edge.config import Config
from edge.daemon import Daemon
from edge.store import devices
from edge.storewatch import ALERT_KEY

CAMERAS = 20
TOTAL = 2_000
SOS_EVERY = 100  # 20 SOS events in the stream
BAD_EVERY = 250  # 8 invalid telemetry messages: dead-lettered with schema_violation
FILL_AT = 400  # the disk fills after this many messages were published


def stream() -> list[tuple[str, bytes, str]]:
    """(topic, payload, what it is) for every message, in publish order."""
    out = []
    seq = {f"cam-{i:04d}": 0 for i in range(CAMERAS)}
    for n in range(TOTAL):
        sos = n % SOS_EVERY == SOS_EVERY - 1
        device = f"cam-{(n // SOS_EVERY if sos else n) % CAMERAS:04d}"  # each camera raises one SOS
        seq[device] += 1
        if sos:
            body = {**envelope(device, seq[device], msg_id=f"sos-{n}"), "event": "sos", "gps": None}
            out.append((f"bwc/{device}/event", json.dumps(body).encode(), "sos"))
        elif n % BAD_EVERY == BAD_EVERY - 2:
            body = {**telemetry(device, seq[device], msg_id=f"bad-{n}"), "battery_pct": "80"}
            out.append((f"bwc/{device}/telemetry", json.dumps(body).encode(), "bad"))
        else:
            body = telemetry(device, seq[device], msg_id=f"t-{n}")
            out.append((f"bwc/{device}/telemetry", json.dumps(body).encode(), "telemetry"))
    return out


class Screen:
    """A supervisor's screen on the alerts topic."""

    def __init__(self, port: int, topic: str) -> None:
        self.alerts: list[dict] = []
        self.client = paho.Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = lambda c, u, m: self.alerts.append(json.loads(m.payload))
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def sos_keys(screen: Screen) -> set[str]:
    return {a["key"] for a in screen.alerts if a["kind"] == "bodycam.sos" and a["state"] == "raised"}


@contextlib.asynccontextmanager
async def running(config: Config) -> AsyncIterator[Daemon]:
    daemon = Daemon(config)
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop))
    try:
        await asyncio.wait_for(daemon.ready.wait(), 60)
        assert daemon.link is not None
        await daemon.link.wait_connected(30)
        yield daemon
    finally:
        stop.set()
        assert await asyncio.wait_for(run, 60) == 0


async def until(predicate: Callable[[], object], timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


async def test_a_full_database_disk_holds_intake_then_it_resumes_with_nothing_lost_or_doubled(
    own_broker: Broker, small_disk: Path, make_config: Callable[..., Config]
) -> None:
    config = make_config(own_broker, station={"data_dir": str(small_disk)}, services={"cases": False},
                         footage={"enabled": False}, mqtt={"retry_attempts": 4, "retry_window_s": 2.0})
    messages = stream()
    published = 0
    screen = Screen(own_broker.config.port, f"edge/{config.station.id}/alerts")
    async with running(config) as daemon:
        assert daemon.bodycam is not None and daemon.http is not None and daemon.link is not None

        def enrol(tx):  # type: ignore[no-untyped-def]
            for i in range(CAMERAS):
                devices.add(tx, device_id=f"cam-{i:04d}", serial=f"BW{i:05d}", model="test", secret_hash="x")

        await daemon.store.write(enrol)
        await daemon.bodycam.reload_enrolment()
        ready_url = f"http://127.0.0.1:{daemon.http.bound_port}/readyz"
        camera = paho.Client(CallbackAPIVersion.VERSION2)
        camera.max_inflight_messages_set(100)
        camera.connect("127.0.0.1", own_broker.config.port)
        camera.loop_start()
        acked = threading.Semaphore(0)

        def send(part: list[tuple[str, bytes, str]]) -> None:
            infos = [camera.publish(topic, payload, 1) for topic, payload, _ in part]
            for info in infos:
                info.wait_for_publish(60)
                acked.release()

        async with aiohttp.ClientSession() as http:
            async def readiness() -> tuple[int, dict]:
                async with http.get(ready_url) as r:
                    return r.status, await r.json()

            assert (await readiness())[0] == 200
            await asyncio.to_thread(send, messages[:FILL_AT])
            published = FILL_AT
            sos_before = sos_keys(screen)
            filler = await asyncio.to_thread(fill, small_disk)
            sender = asyncio.create_task(asyncio.to_thread(send, messages[FILL_AT:]))
            # The disk is full: readiness names the store, and the store alert goes out from memory.
            async with asyncio.timeout(60):
                while True:
                    status, body = await readiness()
                    if status == 503 and body["checks"]["store"] is False:
                        break
                    await asyncio.sleep(0.05)
            assert "full" in body["store_error"]
            await until(lambda: any(a["key"] == ALERT_KEY and a["state"] == "raised" for a in screen.alerts))
            assert daemon.alerts.unsaved >= 1, "the store alert is held in memory"
            # SOS alerts still reach supervisors while nothing can be stored (SOS first, store later)...
            await until(lambda: sos_keys(screen) - sos_before)
            # ...and past the retry bound the link reconnects so that the broker redelivers.
            await until(lambda: daemon.link is not None and daemon.link.connections >= 2)
            sos_during = sos_keys(screen) - sos_before
            still_failing, _ = await readiness()
            assert still_failing == 503
            filler.unlink()  # space is back: intake resumes by itself
            await sender
            published = TOTAL
            await until(lambda: daemon.store.healthy, 60)
            async with asyncio.timeout(120):
                while (await readiness())[0] != 200:
                    await asyncio.sleep(0.1)

            store = daemon.store
            want_telemetry = {f"t-{n}" for n, (_, _, kind) in enumerate(messages) if kind == "telemetry"}
            want_sos = {f"sos-{n}" for n, (_, _, kind) in enumerate(messages) if kind == "sos"}
            want_bad = {f"bad-{n}" for n, (_, _, kind) in enumerate(messages) if kind == "bad"}

            async def telemetry_ids() -> list[str]:
                return [r["msg_id"] for r in await store.read(lambda q: q.all("SELECT msg_id FROM telemetry"))]

            async with asyncio.timeout(120):
                while len(await telemetry_ids()) < len(want_telemetry):
                    await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # nothing more may arrive
            stored = await telemetry_ids()
            events = await store.read(lambda q: q.all("SELECT msg_id FROM device_events WHERE kind = 'sos'"))
            dead = await store.read(lambda q: q.all("SELECT reason, payload FROM dead_letter"))
            sos_rows = await store.read(lambda q: q.all("SELECT key FROM alerts WHERE kind = 'bodycam.sos'"))
            store_alert = await store.read(lambda q: q.all("SELECT cleared_at FROM alerts WHERE key = ?",
                                                           (ALERT_KEY,)))
            # Intake goes on with no restart.
            after = telemetry("cam-0001", 10_000, msg_id="after-recovery")
            await asyncio.to_thread(lambda: camera.publish("bwc/cam-0001/telemetry", json.dumps(after).encode(),
                                                           1).wait_for_publish(30))
            async with asyncio.timeout(60):
                while "after-recovery" not in await telemetry_ids():
                    await asyncio.sleep(0.1)
        camera.loop_stop()
        camera.disconnect()
        services = daemon.supervisor.states if daemon.supervisor is not None else {}
    screen.close()
    assert published == TOTAL
    assert sorted(stored) == sorted(want_telemetry), "every telemetry message stored exactly once"
    assert sorted(r["msg_id"] for r in events) == sorted(want_sos), "every SOS event stored exactly once"
    bad_dead = [json.loads(r["payload"])["msg_id"] for r in dead if r["reason"] == "schema_violation"]
    assert sorted(bad_dead) == sorted(want_bad), "each invalid message dead-lettered once, with its reason"
    assert not [r for r in dead if r["reason"] not in ("schema_violation", "duplicate")], dead
    assert sos_during, "an SOS alert reached supervisors while the store could take nothing"
    assert len(sos_rows) == len({r["key"] for r in sos_rows}) == CAMERAS, "one SOS alert per camera"
    assert len(store_alert) >= 1 and store_alert[-1]["cleared_at"] is not None, "the store alert stored later"
    assert any(a["key"] == ALERT_KEY and a["state"] == "cleared" for a in screen.alerts)
    assert all(s.restarts == 0 for s in services.values()), services
