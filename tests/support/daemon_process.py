"""The real daemon in a child process (``station-edge run``), for tests that kill it with SIGKILL."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from edge.config import Role
from support.tokens import ROLE_TOKENS

CRASH_AROUND_UNLINK = Path(__file__).with_name("crash_unlink.py")


def write_config(tmp_path: Path, port: int, extra_footage: str = "") -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(
        f'[station]\nid = "KILL-1"\ndata_dir = "{tmp_path / "data"}"\n[http]\nport = {port}\n'
        '[services]\nmqtt = false\n[footage]\nprobe_pool = "thread"\nhard_floor_mb = 0\n' + extra_footage +
        f'[[api.tokens]]\nname = "sup"\nrole = "supervisor"\ntoken = "{ROLE_TOKENS[Role.SUPERVISOR]}"\n')
    return path


def launch(config: Path, *, crash_around_unlink: str | None = None, log: Path | None = None
           ) -> subprocess.Popen[bytes]:
    """Start the daemon; with ``crash_around_unlink`` ('before'/'after') it kills itself at the first unlink
    of a stored footage file (tests/support/crash_unlink.py)."""
    command = [sys.executable, "-m", "edge.cli"]
    env = dict(os.environ)
    if crash_around_unlink is not None:
        command = [sys.executable, str(CRASH_AROUND_UNLINK)]
        env["CRASH_AROUND_UNLINK"] = crash_around_unlink
    argv = [*command, "run", "--config", str(config)]
    if log is None:
        return subprocess.Popen(argv, stderr=subprocess.DEVNULL, env=env)
    with log.open("ab") as sink:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(argv, stderr=sink, env=env)


def wait_ready(proc: subprocess.Popen[bytes], port: int, timeout: float = 30) -> subprocess.Popen[bytes]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"daemon exited with {proc.returncode} before it was ready")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz",
                                                                  timeout=1) as r:
            if r.status == 200:
                return proc
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("daemon not ready")


def start(config: Path, port: int, **kw: object) -> subprocess.Popen[bytes]:
    return wait_ready(launch(config, **kw), port)  # type: ignore[arg-type]
