"""At-least-once telemetry across a SIGKILL: a real daemon process (``python -m edge.cli run``), a real
Mosquitto, 20,000 QoS 1 telemetry messages. The daemon is killed mid-stream and restarted; the broker
redelivers whatever it never got a PUBACK for, and every message ends up stored exactly once."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from support.bodycam import telemetry
from support.processes import enrol, session_online, start_daemon

from edge.broker import Broker
from edge.store import connect

CAMERAS = 50
PER_CAMERA = 400  # 20,000 messages
TOTAL = CAMERAS * PER_CAMERA
KILL_AFTER_ROWS = 3_000


def write_config(tmp: Path, port: int) -> Path:
    path = tmp / "edge.toml"
    path.write_text(f"""
[station]
id = "KILL-1"
data_dir = "{tmp / 'data'}"

[mqtt]
url = "mqtt://127.0.0.1:{port}"
reconnect_min_s = 0.1
reconnect_max_s = 0.5

[services]
http = false
cases = false

[footage]
enabled = false

[logging]
level = "warning"
""", encoding="utf-8")
    return path


def rows(database: Path) -> tuple[int, int]:
    """(telemetry rows, distinct device/msg_id pairs), read-only beside the running daemon."""
    if not database.exists():
        return 0, 0
    conn = connect(database, readonly=True)
    try:
        row = conn.execute("SELECT count(*), count(DISTINCT device_id || '/' || msg_id) FROM telemetry").fetchone()
        return int(row[0]), int(row[1])
    finally:
        conn.close()


class Publisher(threading.Thread):
    """Cameras' traffic from one paho client: every message QoS 1, each PUBACKed by the broker."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.acked = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            client = paho.Client(CallbackAPIVersion.VERSION2)
            client.max_inflight_messages_set(200)
            client.connect("127.0.0.1", self.port)
            client.loop_start()
            infos = []
            for seq in range(1, PER_CAMERA + 1):
                for cam in range(CAMERAS):
                    device = f"cam-{cam:04d}"
                    payload = json.dumps(telemetry(device, seq, msg_id=f"k{cam}-{seq}")).encode()
                    infos.append(client.publish(f"bwc/{device}/telemetry", payload, 1))
                if len(infos) >= 2_000:
                    for info in infos:
                        info.wait_for_publish(60)
                    self.acked += len(infos)
                    infos = []
            for info in infos:
                info.wait_for_publish(60)
            self.acked += len(infos)
            client.loop_stop()
            client.disconnect()
        except BaseException as exc:
            self.error = exc


async def wait_rows(database: Path, at_least: int, timeout: float, proc: subprocess.Popen[bytes]) -> int:
    async with asyncio.timeout(timeout):
        while (count := rows(database)[0]) < at_least:
            assert proc.poll() is None, f"daemon exited with {proc.returncode}"
            await asyncio.sleep(0.05)
    return count


async def test_sigkill_mid_stream_loses_and_duplicates_no_telemetry(
    own_broker: Broker, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    config = write_config(tmp_path, own_broker.config.port)
    database = tmp_path / "data" / "station.db"
    await enrol(database, CAMERAS)
    log = tmp_path / "daemon.log"
    first = start_daemon(config, log)
    processes.append(first)
    publisher = Publisher(own_broker.config.port)
    # The daemon must hold its session before the stream starts, or the broker would queue nothing for it.
    await asyncio.sleep(0)
    async with asyncio.timeout(60):
        while not await asyncio.to_thread(session_online, own_broker.config.port, "KILL-1"):
            assert first.poll() is None, log.read_text()
    publisher.start()
    at_kill = await wait_rows(database, KILL_AFTER_ROWS, 120, first)
    first.send_signal(signal.SIGKILL)
    assert await asyncio.to_thread(first.wait, 30) == -signal.SIGKILL
    stored_at_kill = rows(database)[0]
    assert stored_at_kill < TOTAL, "killed after the whole stream was stored: nothing was tested"
    await asyncio.to_thread(publisher.join, 300)
    assert publisher.error is None and publisher.acked == TOTAL, publisher.error

    second = start_daemon(config, log)
    processes.append(second)
    await wait_rows(database, TOTAL, 180, second)
    await asyncio.sleep(1.0)  # nothing more may arrive
    total, distinct = rows(database)
    second.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(second.wait, 30) == 0, log.read_text()[-3000:]
    assert (total, distinct) == (TOTAL, TOTAL), f"stored {total} rows, {distinct} distinct (killed at {at_kill})"


