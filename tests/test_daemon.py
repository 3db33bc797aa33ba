"""The daemon as systemd runs it: a separate process, signals, exit codes, sd_notify."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.broker import Broker, free_port
from edge.config import Config
from edge.mqtt import Message


def write_config(tmp_path: Path, broker: Broker, http_port: int) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(
        f'[station]\nid = "PROC-1"\ndata_dir = "{tmp_path / "data"}"\n'
        f'[mqtt]\nurl = "{broker.url}"\n[http]\nport = {http_port}\n'
        '[[api.tokens]]\nname = "ops"\nrole = "technician"\ntoken = "0123456789abcdef0123"\n'
    )
    return path


def wait_ready(port: int, timeout: float = 30) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"not ready within {timeout} s")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_starts_ready_and_stops_cleanly_on_signal(tmp_path: Path, mosquitto: Broker, sig: signal.Signals) -> None:
    port = free_port()
    config = write_config(tmp_path, mosquitto, port)
    with subprocess.Popen([sys.executable, "-m", "edge.cli", "run", "--config", str(config)],
                          stderr=subprocess.PIPE, text=True) as proc:
        try:
            wait_ready(port)
            proc.send_signal(sig)
            code = proc.wait(timeout=60)  # a ceiling; the drain bound is the config's shutdown_timeout_s
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.stderr is not None
        logs = [json.loads(line) for line in proc.stderr.read().splitlines() if line.startswith("{")]
    assert code == 0
    messages = [entry["msg"] for entry in logs]
    assert any("ready" in m for m in messages) and "station-edge stopped cleanly" in messages


def test_systemd_notify_ready_watchdog_stopping(tmp_path: Path, mosquitto: Broker) -> None:
    port = free_port()
    config = write_config(tmp_path, mosquitto, port)
    notify_path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(notify_path))
        sock.settimeout(10)
        env = dict(os.environ, NOTIFY_SOCKET=str(notify_path), WATCHDOG_USEC="400000")
        with subprocess.Popen([sys.executable, "-m", "edge.cli", "run", "--config", str(config)], env=env,
                              stderr=subprocess.DEVNULL) as proc:
            received: list[str] = []
            try:
                while not any("READY=1" in r for r in received):
                    received.append(sock.recv(4096).decode())
                while sum("WATCHDOG=1" in r for r in received) < 2:
                    received.append(sock.recv(4096).decode())
                proc.send_signal(signal.SIGTERM)
                while not any("STOPPING=1" in r for r in received):
                    received.append(sock.recv(4096).decode())
                assert proc.wait(timeout=60) == 0
            finally:
                if proc.poll() is None:
                    proc.kill()
    assert any("STATUS=station PROC-1 running" in r for r in received)


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text('[station]\nid = "X1"\n[mqtt]\nurll = "mqtt://x"\n')
    result = subprocess.run([sys.executable, "-m", "edge.cli", "run", "--config", str(path)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "mqtt.urll: Extra inputs are not permitted" in result.stderr


async def test_dead_letters_are_stored_with_their_reason(mosquitto: Broker, make_config: Callable[..., Config],
                                                         topic_prefix: str) -> None:
    from edge.daemon import Daemon
    from edge.mqtt import HandlerRejected
    from edge.store import deadletter

    daemon = Daemon(make_config(mosquitto))

    async def strict(message: Message) -> None:
        raise HandlerRejected("invalid_json", "Expecting value: line 1 column 1")

    daemon.router.add(f"{topic_prefix}/in", strict)
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop))
    await asyncio.wait_for(daemon.ready.wait(), 60)
    assert daemon.link is not None
    await daemon.link.wait_connected(30)
    await daemon.link.publish(f"{topic_prefix}/in", b"{not json")
    channel = f"{topic_prefix}/in"
    # Only this test's topic: the shared broker also holds other tests' retained camera status messages.
    async with asyncio.timeout(30):
        while not (rows := [r for r in await daemon.store.read(lambda q: deadletter.recent(q, limit=1000))
                            if r["channel"] == channel]):
            await asyncio.sleep(0.05)
    stop.set()
    assert await run == 0
    assert rows[0]["reason"] == "invalid_json"
    assert rows[0]["payload_size"] == 9


def test_status_command_asks_the_running_daemon(tmp_path: Path, mosquitto: Broker) -> None:
    port = free_port()
    config = write_config(tmp_path, mosquitto, port)
    status = [sys.executable, "-m", "edge.cli", "status", "--config", str(config)]
    down = subprocess.run(status, capture_output=True, text=True, timeout=30)
    assert down.returncode == 1 and "not answering" in down.stderr
    with subprocess.Popen([sys.executable, "-m", "edge.cli", "run", "--config", str(config)],
                          stderr=subprocess.DEVNULL) as proc:
        try:
            wait_ready(port)
            up = subprocess.run(status, capture_output=True, text=True, timeout=30)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    assert up.returncode == 0, up.stderr
    report = json.loads(up.stdout)
    assert report["ready"]["ready"] is True
    assert report["status"]["station"]["id"] == "PROC-1"
    assert {"mqtt", "http"} <= set(report["status"]["services"])
