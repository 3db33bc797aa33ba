"""Helpers for tests that run the daemon as a real process and fill a real disk."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge.store import Store, devices


def start_daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """``python -m edge.cli run --config …`` with its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "edge.cli", "run", "--config", str(config)],
                                stdout=out, stderr=subprocess.STDOUT)


async def enrol(database: Path, cameras: int) -> None:
    """Enrol cam-0000 … before the daemon starts (no broker accounts: the test broker is anonymous)."""
    store = Store(database)
    await store.open()

    def add(tx):  # type: ignore[no-untyped-def]
        for i in range(cameras):
            devices.add(tx, device_id=f"cam-{i:04d}", serial=f"BW{i:05d}", model="test", secret_hash="x")

    await store.write(add)
    await store.close()


def session_online(port: int, station: str) -> bool:
    """The daemon's retained status says online (it publishes that once connected and subscribed)."""
    got = threading.Event()
    state: list[str] = []
    client = paho.Client(CallbackAPIVersion.VERSION2)

    def on_message(c: paho.Client, u: object, msg: paho.MQTTMessage) -> None:
        state.append(json.loads(msg.payload).get("state", ""))
        got.set()

    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.subscribe(f"edge/{station}/status", qos=1)
    client.loop_start()
    got.wait(1.0)
    client.loop_stop()
    client.disconnect()
    return state[-1:] == ["online"]


def fill(directory: Path) -> Path:
    """Take every free byte of the file system (what a runaway log or a full footage disk does)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            chunk = b"\0" * size
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, chunk)
    finally:
        os.close(fd)
    return filler
