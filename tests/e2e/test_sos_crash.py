"""SOS first, and the same alert after a crash: the SOS alert leaves before any durable write; when the
daemon dies before its commit (here: the database disk is full, then SIGKILL), the broker redelivers the
camera's message to the restarted daemon, which publishes the same alert (same key and msg_id) and
stores it once."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from support.bodycam import envelope
from support.processes import enrol, fill, session_online, start_daemon

from edge.broker import Broker
from edge.store import connect

STATION = "SOS-1"


def write_config(tmp: Path, data: Path, port: int) -> Path:
    path = tmp / "edge.toml"
    path.write_text(f"""
[station]
id = "{STATION}"
data_dir = "{data}"

[mqtt]
url = "mqtt://127.0.0.1:{port}"
reconnect_min_s = 0.1
reconnect_max_s = 0.5
retry_attempts = 1000
retry_window_s = 600

[services]
http = false
cases = false

[footage]
enabled = false
""", encoding="utf-8")
    return path


class Screen:
    def __init__(self, port: int) -> None:
        self.alerts: list[dict] = []
        self.arrived = threading.Condition()
        self.client = paho.Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"edge/{STATION}/alerts", qos=1)
        self.client.loop_start()

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        with self.arrived:
            self.alerts.append(json.loads(msg.payload))
            self.arrived.notify_all()

    def wait(self, count: int, timeout: float = 60) -> list[dict]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.sos()) >= count, timeout), self.alerts
            return self.sos()

    def sos(self) -> list[dict]:
        return [a for a in self.alerts if a["kind"] == "bodycam.sos"]


async def test_a_crash_between_publishing_and_committing_an_sos_re_raises_the_same_alert(
    own_broker: Broker, tmp_path: Path, small_disk: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    port = own_broker.config.port
    database = small_disk / "station.db"
    await enrol(database, 4)
    config = write_config(tmp_path, small_disk, port)
    log = tmp_path / "daemon.log"
    screen = Screen(port)
    first = start_daemon(config, log)
    processes.append(first)
    async with asyncio.timeout(60):
        while not await asyncio.to_thread(session_online, port, STATION):
            assert first.poll() is None, log.read_text()
    filler = await asyncio.to_thread(fill, small_disk)
    camera = paho.Client(CallbackAPIVersion.VERSION2)
    camera.connect("127.0.0.1", port)
    camera.loop_start()
    sos = {**envelope("cam-0003", 7, msg_id="sos-crash-1"), "event": "sos", "gps": None}
    await asyncio.to_thread(lambda: camera.publish("bwc/cam-0003/event", json.dumps(sos).encode(), 1)
                            .wait_for_publish(30))
    before = await asyncio.to_thread(screen.wait, 1)  # published although nothing could be stored
    first.send_signal(signal.SIGKILL)
    assert await asyncio.to_thread(first.wait, 30) == -signal.SIGKILL
    conn = connect(database, readonly=True)
    try:
        assert conn.execute("SELECT count(*) FROM alerts WHERE kind = 'bodycam.sos'").fetchone()[0] == 0
    finally:
        conn.close()
    filler.unlink()

    second = start_daemon(config, log)
    processes.append(second)
    after = await asyncio.to_thread(screen.wait, 2)  # the redelivered SOS raises it again
    async with asyncio.timeout(60):
        while True:
            conn = connect(database, readonly=True)
            try:
                events = conn.execute("SELECT count(*) FROM device_events WHERE msg_id = 'sos-crash-1'").fetchone()[0]
                alerts = conn.execute("SELECT key FROM alerts WHERE kind = 'bodycam.sos'").fetchall()
                queued = conn.execute("SELECT count(*) FROM outbox WHERE kind = 'alert'").fetchone()[0]
            finally:
                conn.close()
            if events:
                break
            await asyncio.sleep(0.1)
    second.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(second.wait, 30) == 0
    camera.loop_stop()
    camera.disconnect()
    screen.client.loop_stop()
    screen.client.disconnect()
    assert (after[1]["key"], after[1]["msg_id"], after[1]["state"]) == (before[0]["key"], before[0]["msg_id"],
                                                                        "raised"), "the same alert, not a second"
    assert events == 1 and [a[0] for a in alerts] == ["bodycam.sos:cam-0003"] and queued == 1
