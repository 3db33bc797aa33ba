from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import aiohttp
import paho.mqtt.client as paho_client
from paho.mqtt.enums import CallbackAPIVersion
from support.tokens import auth

from edge.alerts import Alert, AlertBus, Severity
from edge.broker import Broker
from edge.config import Config, Role
from edge.daemon import Daemon
from edge.store import Store, outbox


async def test_alert_lifecycle_is_stored_published_and_queued(mosquitto: Broker,
                                                              make_config: Callable[..., Config]) -> None:
    config = make_config(mosquitto)
    received: list[dict] = []
    subscriber = paho_client.Client(CallbackAPIVersion.VERSION2)
    subscriber.on_message = lambda c, u, m: received.append(json.loads(m.payload))
    subscriber.connect("127.0.0.1", mosquitto.config.port)
    subscriber.subscribe(f"edge/{config.station.id}/alerts", qos=1)
    subscriber.loop_start()
    daemon = Daemon(config)
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop))
    try:
        await asyncio.wait_for(daemon.ready.wait(), 60)
        assert daemon.link is not None and daemon.http is not None
        await daemon.link.wait_connected(30)
        low = Alert("battery_low:cam-1", "bodycam.battery_low", Severity.WARNING, "device:cam-1", "battery 14 %")
        assert await daemon.alerts.raise_alert(low)
        assert not await daemon.alerts.raise_alert(low), "same state again changes nothing"
        worse = Alert("battery_low:cam-1", "bodycam.battery_low", Severity.CRITICAL, "device:cam-1", "battery 4 %")
        assert await daemon.alerts.raise_alert(worse)
        assert await daemon.alerts.clear_alert("battery_low:cam-1", "battery 80 % after docking")
        assert not await daemon.alerts.clear_alert("battery_low:cam-1", "again")
        async with asyncio.timeout(30):
            while len(received) < 3:
                await asyncio.sleep(0.02)
        base = f"http://127.0.0.1:{daemon.http.bound_port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/api/v1/alerts?state=all", headers=auth(Role.SUPERVISOR)) as r:
                listed = (await r.json())["items"]
            async with session.get(f"{base}/api/v1/alerts", headers=auth(Role.SUPERVISOR)) as r:
                active = (await r.json())["items"]
        queued = await daemon.store.read(outbox.counts)
    finally:
        stop.set()
        await asyncio.wait_for(run, 60)
        subscriber.loop_stop()
        subscriber.disconnect()
    assert [m["state"] for m in received] == ["raised", "changed", "cleared"]
    assert [m["severity"] for m in received] == ["warning", "critical", "critical"]
    assert received[0]["kind"] == "bodycam.battery_low" and received[0]["station_id"] == config.station.id
    assert active == []
    assert len(listed) == 1
    assert [h["change"] for h in listed[0]["history"]] == ["raised", "changed", "cleared"]
    assert listed[0]["cleared_reason"] == "battery 80 % after docking"
    assert sum(queued["pending"].values()) == 3


async def test_alerts_go_out_while_the_store_fails_and_are_stored_once_it_is_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "station.db")
    await store.open()
    published: list[dict] = []

    async def publish(topic: str, payload: bytes) -> None:
        published.append(json.loads(payload))

    bus = AlertBus("ST-9", store, publish)
    try:
        assert await bus.raise_alert(Alert("a:1", "test.first", Severity.WARNING, "station", "stored at once"))
        await store.close()  # the store takes no writes now
        assert await bus.raise_alert(Alert("b:1", "test.held", Severity.CRITICAL, "station", "held in memory"),
                                     origin="cam-1/m-1")
        assert await bus.clear_alert("a:1", "cleared while the store is down")
        async with asyncio.timeout(30):  # the publish tasks run on their own: a ceiling, not 0.1 s
            while len(published) < 3:
                await asyncio.sleep(0.01)
        assert [(p["key"], p["state"]) for p in published] == [("a:1", "raised"), ("b:1", "raised"),
                                                               ("a:1", "cleared")]
        assert bus.unsaved == 2
        await store.open()  # back: the held transitions are stored, in order, by the retry task
        async with asyncio.timeout(30):
            while bus.unsaved:
                await asyncio.sleep(0.05)
        rows = await store.read(lambda q: q.all("SELECT key, cleared_at FROM alerts ORDER BY id"))
        queued = await store.read(outbox.counts)
    finally:
        await bus.drain()
        await store.close()
    assert [(r["key"], r["cleared_at"] is not None) for r in rows] == [("a:1", True), ("b:1", False)]
    assert sum(queued["pending"].values()) == 3
    # A transition caused by a message has the same msg_id in any process: a redelivery's alert is this one.
    again = AlertBus("ST-9", store, publish)
    assert again.message_id("b:1", "raised", "cam-1/m-1") == published[1]["msg_id"]
