"""``station-edge demo`` as a person runs it: it gets ready, Ctrl-C stops every child, and a technician can
publish as one of its cameras with mosquitto_pub."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.broker import free_port

BANNER = "station-edge demo is running"


def descendants_of(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(status.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> list[int]:
    result = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if "zombie" not in state.lower():
            result.append(pid)
    return result


def wait_gone(pids: set[int], within: float = 30) -> list[int]:
    """The children still alive once they all exited or ``within`` seconds passed (a ceiling)."""
    deadline = time.monotonic() + within
    while (left := alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


class Demo:
    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.port = free_port() if port is None else port
        self.directory = directory
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "demo", "--dir", str(directory), "--http-port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self, timeout: float) -> dict:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1) as response:
                    return json.loads(response.read())
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"demo not ready within {timeout} s:\n{self.output}")

    def wait_banner(self, timeout: float) -> None:
        start = time.monotonic()
        while BANNER not in self.output:
            assert time.monotonic() - start < timeout, f"no banner within {timeout} s:\n{self.output}"
            assert self.proc.poll() is None, f"demo exited early:\n{self.output}"
            time.sleep(0.05)

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=60)
        self._reader.join(5)
        return code


@contextmanager
def demo(directory: Path, port: int | None = None) -> Iterator[Demo]:
    running = Demo(directory, port)
    try:
        yield running
    finally:
        if running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait()
        if running.proc.stdout is not None:
            running.proc.stdout.close()


@pytest.mark.slow
def test_demo_gets_ready_shows_the_station_and_ctrl_c_leaves_no_orphans(tmp_path: Path) -> None:
    with demo(tmp_path / "demo") as running:
        ready = running.wait_ready(60)  # a ceiling: alone it is ready in a few seconds
        assert ready["ready"], ready
        running.wait_banner(90)
        children = descendants_of(running.proc.pid)
        assert children, "the demo runs a private broker as its child"
        token = (tmp_path / "demo" / "secrets" / "technician.token").read_text().strip()
        request = urllib.request.Request(f"http://127.0.0.1:{running.port}/api/v1/status",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.loads(response.read())["station"]["id"] == "DEMO-01"
        assert running.interrupt() == 0, running.output
    assert "demo stopped" in running.output
    assert wait_gone(children) == [], f"orphaned children: {alive(children)}"


@pytest.mark.slow
def test_ctrl_c_while_the_simulators_start_still_stops_cleanly(tmp_path: Path) -> None:
    with demo(tmp_path / "demo") as running:
        running.wait_ready(60)
        children = descendants_of(running.proc.pid)
        assert running.interrupt() == 0, running.output
    assert "demo stopped" in running.output
    assert "Traceback" not in running.output
    assert wait_gone(children) == []


def _mosquitto_pub(port: int, user: str, password: str, topic: str, payload: str) -> subprocess.CompletedProcess[str]:
    # The command docs/simulators.md gives a technician, with the password read from the demo's file.
    return subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv5", "-q", "1",
                           "-u", user, "-P", password, "-t", topic, "-m", payload],
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.slow
def test_a_technician_publishes_as_a_demo_camera_with_mosquitto_pub(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    with demo(directory) as running:
        running.wait_ready(60)
        running.wait_banner(90)
        folder = directory / "secrets" / "mqtt-cameras"
        assert str(folder) in running.output, "the banner says where the camera secrets are"
        everything = json.loads((directory / "secrets" / "mqtt-cameras.json").read_text())
        device = sorted(everything)[0]
        password_file = folder / f"{device}.password"
        assert os.stat(password_file).st_mode & 0o077 == 0, "secrets are owner-only"
        password = password_file.read_text().strip()
        assert password == everything[device]
        port = tomllib.loads((directory / "edge.toml").read_text())["mqtt"]["url"].rsplit(":", 1)[1]
        now = datetime.now(UTC).isoformat()
        msg_id = f"tech-{uuid.uuid4().hex[:12]}"
        payload = json.dumps({"v": 1, "device_id": device, "seq": 2**40, "msg_id": msg_id, "ts": now,
                              "gps": {"lat": 22.5, "lon": 114.0, "accuracy_m": 5.0, "fix_at": now},
                              "battery_pct": 55, "storage_free_mb": 1234, "recording": False, "signal_dbm": -80})

        refused = _mosquitto_pub(int(port), device, password + "x", f"bwc/{device}/telemetry", payload)
        assert refused.returncode != 0, "a wrong secret is refused (the demo broker checks passwords)"
        sent = _mosquitto_pub(int(port), device, password, f"bwc/{device}/telemetry", payload)
        assert sent.returncode == 0, sent.stderr

        database = directory / "data" / "station.db"
        deadline = time.monotonic() + 60  # a ceiling; the telemetry batch commits within about a second
        stored = []
        while not stored and time.monotonic() < deadline:
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
                stored = conn.execute("SELECT device_id, battery_pct FROM telemetry WHERE msg_id = ?",
                                      (msg_id,)).fetchall()
            time.sleep(0.2)
        assert stored == [(device, 55)], running.output[-3000:]
        assert running.interrupt() == 0, running.output


@pytest.mark.slow
def test_http_port_0_shows_and_uses_the_port_actually_bound(tmp_path: Path) -> None:
    with demo(tmp_path / "demo", port=0) as running:
        running.wait_banner(90)
        match = re.search(r"readiness +http://127\.0\.0\.1:(\d+)/readyz", running.output)
        assert match is not None, running.output
        port = int(match.group(1))
        assert port != 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=30) as response:
            assert json.loads(response.read())["ready"]
        assert running.interrupt() == 0, running.output
