"""``station-edge sim bodycams`` as a technician runs it: a deterministic fleet on a broker, timed."""

from __future__ import annotations

import subprocess
import sys
import threading

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge.bodycam.payloads import decode
from edge.broker import Broker
from edge.timeutil import utcnow


def test_sim_bodycams_publishes_valid_contract_messages(mosquitto: Broker) -> None:
    seen: list[tuple[str, bytes]] = []
    got = threading.Event()
    sub = paho.Client(CallbackAPIVersion.VERSION2)
    sub.on_message = lambda c, u, m: (seen.append((m.topic, bytes(m.payload))), got.set())
    sub.connect("127.0.0.1", mosquitto.config.port)
    sub.subscribe("bwc/+/+", qos=1)
    sub.loop_start()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "edge.cli", "sim", "bodycams", "--count", "3", "--seed", "4", "--speed", "30",
             "--duration", "1.5", "--broker", mosquitto.url],
            capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        assert "published" in result.stdout
        assert got.wait(30)
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert {topic.split("/")[1] for topic, _ in seen} <= {"cam-0001", "cam-0002", "cam-0003"}
    for topic, payload in seen:
        decode(topic, payload, utcnow())  # everything the simulator sends honours the contract
