"""``station-edge demo`` as a person runs it: ready within 10 s, Ctrl-C stops every child."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from edge.broker import free_port


def children_of(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(status.parent.name))
    return found


@pytest.mark.slow
def test_demo_is_ready_within_10s_and_ctrl_c_leaves_no_orphans(tmp_path: Path) -> None:
    port = free_port()
    with subprocess.Popen([sys.executable, "-m", "edge.cli", "demo", "--dir", str(tmp_path / "demo"),
                           "--http-port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as proc:
        try:
            start = time.monotonic()
            ready = None
            while time.monotonic() - start < 10 and ready is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                        ready = json.loads(response.read())
                except OSError:
                    time.sleep(0.1)
            assert ready is not None and ready["ready"], "demo not ready within 10 s"
            children = children_of(proc.pid)
            assert children, "the demo runs a private broker as its child"
            token = (tmp_path / "demo" / "secrets" / "technician.token").read_text().strip()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/status",
                                             headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, timeout=2) as response:
                assert json.loads(response.read())["station"]["id"] == "DEMO-01"
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.stdout is not None
        output = proc.stdout.read()
    assert "station-edge demo is running" in output and "demo stopped" in output
    time.sleep(0.2)
    alive = [pid for pid in children if Path(f"/proc/{pid}").exists() and
             "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()]
    assert alive == [], f"orphaned children: {alive}"
    assert not os.path.exists(f"/proc/{proc.pid}/status") or proc.returncode == 0
