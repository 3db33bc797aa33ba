"""docs/operations.md's installation walk-through: its commands, and the first enrolment against Mosquitto.

systemd is not PID 1 in the test container, so nothing here starts a unit. What a test can do it does: every
shell block parses, every file it installs ships, every command it runs exists, every ``station-edge``
command line parses; and the enrolment steps run for real: the shipped Mosquitto include loaded by a
Debian-shaped mosquitto.conf, ``station-edge devices provision``, ``station-edge run``, ``devices add`` while
the daemon runs, and the reload done exactly as station-edge-broker-reload.service does it (its ExecStart
lines, with mosquitto.service's ExecReload, ``kill -HUP $MAINPID``). As root the broker drops to the
``mosquitto`` user as on a gateway, so the directory and file modes are tested too.
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.bodycam import online
from support.deployment import (
    DEPLOY,
    INSTALL_PREFIX,
    ROOT,
    install_section,
    shell_blocks,
    unit_directives,
)

from edge.broker import die_with_parent, free_port
from edge.cli import build_parser

STATION_EDGE = Path(sys.executable).with_name("station-edge")
BUILTINS = {"cd", "umask"}
BROKER_DIR = "/var/lib/station-edge/mosquitto"
REFUSED = "Connection Refused: not authorised"  # what the walk-through says mosquitto_sub prints


def _simple_commands(block: str) -> Iterator[tuple[Path, list[str]]]:
    """(working directory, words) of every simple command, following ``cd``."""
    cwd = Path("/root")
    for line in block.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()<>")
        lexer.whitespace_split = True
        words: list[str] = []
        redirect = False
        for token in [*lexer, ";"]:
            if token in (">", ">>", "<"):
                redirect = True  # its target is not an argument
            elif redirect:
                redirect = False
            elif token and set(token) <= set(";&|()"):
                if words:
                    if words[0] == "cd":
                        cwd = cwd / words[1]
                    yield cwd, words
                words = []
            else:
                words.append(token)


def _in_repo(path: Path) -> Path | None:
    return ROOT / path.relative_to(INSTALL_PREFIX) if path.is_relative_to(INSTALL_PREFIX) else None


def test_walkthrough_blocks_are_shell_that_names_shipped_files_and_real_commands() -> None:
    blocks = shell_blocks(install_section())
    assert len(blocks) >= 6
    parser = build_parser()
    seen_station_edge: list[list[str]] = []
    for block in blocks:
        syntax = subprocess.run(["bash", "-n"], input=block, capture_output=True, text=True, check=False)
        assert syntax.returncode == 0, syntax.stderr
        for cwd, words in _simple_commands(block):
            if words[0] == "runuser":
                assert words[1:4] == ["-u", "station-edge", "--"], words
                words = words[4:]
            name = words[0]
            if name == "station-edge":
                with contextlib.redirect_stdout(None):
                    parser.parse_args(words[1:])  # exits (fails the test) on an unknown option or command
                seen_station_edge.append(words[1:3])
            elif name.startswith("./"):
                local = _in_repo(cwd / name)
                assert local is not None and os.access(local, os.X_OK), f"{name} in {cwd}"
            elif name not in BUILTINS:
                assert shutil.which(name) or Path("/usr/sbin", name).exists(), f"command {name} not found"
            if name == "install" and "-d" not in words:
                sources = [w for w in words[1:-1] if not w.startswith("-") and not re.fullmatch(r"[0-7]{4}|root|"
                                                                                              r"station-edge", w)]
                for source in sources:
                    local = _in_repo(cwd / source)
                    assert local is not None and local.is_file(), f"install source {source} (in {cwd}) not shipped"
            for word in words:
                if word.startswith(f"{INSTALL_PREFIX}/"):
                    local = _in_repo(Path(word))
                    assert local is not None and local.exists(), f"{word} is not in the source tree"
    for needed in (["check-config"], ["devices", "provision"], ["devices", "add"], ["token", "new"]):
        assert any(words[: len(needed)] == needed for words in seen_station_edge), needed


def _walkthrough_line(prefix: str) -> list[str]:
    for block in shell_blocks(install_section()):
        for line in block.splitlines():
            if line.startswith(prefix):
                return shlex.split(line)
    raise AssertionError(f"no walk-through line starts with {prefix!r}")


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False, **kwargs)  # type: ignore[call-overload]


def _wait(condition: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Gateway:
    """A scratch filesystem laid out as the walk-through installs a gateway (paths under ``base``)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.as_root = os.geteuid() == 0
        self.data = base / "var/lib/station-edge"
        self.broker_dir = base / BROKER_DIR.lstrip("/")
        self.etc = base / "etc/station-edge"
        self.mqtt_port, self.http_port = free_port(), free_port()
        self.config = self.etc / "edge.toml"
        self.run_dir = base / "run/mosquitto"
        self.technician_token = ""

    def lay_out(self) -> None:
        self.base.chmod(0o751)
        for part in ("var", "var/lib"):
            (self.base / part).mkdir(mode=0o755)
        self.data.mkdir(mode=0o751)
        self.data.chmod(0o751)
        self.broker_dir.mkdir()
        group = grp.getgrnam("mosquitto").gr_gid if self.as_root else os.getegid()
        os.chown(self.broker_dir, -1, group)
        self.broker_dir.chmod(0o2750)
        self.etc.mkdir(parents=True)
        (self.etc / "mqtt.password").write_text("daemon-secret-for-the-walkthrough\n", encoding="utf-8")
        self.run_dir.mkdir(parents=True)
        if self.as_root:
            shutil.chown(self.run_dir, "mosquitto")  # as mosquitto.service's ExecStartPre does

    def write_config(self) -> None:
        """config/edge.toml with the walk-through's edits (step 3) and this scratch tree's paths."""
        text = (ROOT / "config" / "edge.toml").read_text(encoding="utf-8")
        minted = _run([str(STATION_EDGE), *_walkthrough_line("station-edge token new --name station-it")[1:]])
        assert minted.returncode == 0, minted.stderr
        self.technician_token = minted.stderr.rsplit(": ", 1)[1].strip()
        edits = [
            (r'(?m)^data_dir = "/var/lib/station-edge"$', f'data_dir = "{self.data}"'),
            (r'(?m)^broker_dir = "/var/lib/station-edge/mosquitto"$', f'broker_dir = "{self.broker_dir}"'),
            (r'(?m)^url = "mqtt://127.0.0.1:1883"$', f'url = "mqtt://127.0.0.1:{self.mqtt_port}"'),
            (r'(?m)^# username = "station-edge"$', 'username = "station-edge"'),
            (r'(?m)^# password_file = "/etc/station-edge/mqtt.password"$',
             f'password_file = "{self.etc / "mqtt.password"}"'),
            (r"(?m)^port = 8080$", f"port = {self.http_port}"),
            (r'(?s)\[\[api\.tokens\]\]\nname = "station-it".*?(?=\n\[services\])', minted.stdout),
        ]
        for pattern, replacement in edits:
            text, count = re.subn(pattern, lambda _m, r=replacement: r, text)
            assert count == 1, f"config/edge.toml no longer has {pattern}"
        self.config.write_text(text + '\n[footage]\nprobe_pool = "thread"\n' if "[footage]" not in text else text,
                               encoding="utf-8")

    def mosquitto_conf(self) -> Path:
        """Debian's /etc/mosquitto/mosquitto.conf (its shape), and the shipped include in conf.d."""
        conf_d = self.base / "etc/mosquitto/conf.d"
        conf_d.mkdir(parents=True)
        shipped = (DEPLOY / "mosquitto" / "station-edge.conf").read_text(encoding="utf-8")
        assert "listener 1883\n" in shipped and shipped.count(BROKER_DIR) == 2
        (conf_d / "station-edge.conf").write_text(
            shipped.replace(BROKER_DIR, str(self.broker_dir))
                   .replace("listener 1883\n", f"listener {self.mqtt_port} 127.0.0.1\n"), encoding="utf-8")
        main = self.base / "etc/mosquitto/mosquitto.conf"
        user = "" if self.as_root else f"user {os.environ.get('USER') or 'nobody'}\n"  # as root: drops to mosquitto
        main.write_text(f"pid_file {self.run_dir}/mosquitto.pid\npersistence false\nlog_dest stderr\n{user}"
                        f"include_dir {conf_d}\n", encoding="utf-8")
        return main

    def station_edge(self, line_prefix: str, **substitute: str) -> subprocess.CompletedProcess[str]:
        """Run a walk-through line (as written, but for this tree's config path and given values)."""
        words = _walkthrough_line(line_prefix)
        if words[0] == "runuser":
            words = words[4:]
        words = [str(self.config) if w == "/etc/station-edge/edge.toml" else substitute.get(w, w) for w in words]
        return _run([str(STATION_EDGE), *words[1:]])

    def reload_as_the_path_unit_would(self, broker_pid: int) -> None:
        flag = self.broker_dir / "reload-requested"
        assert flag.exists(), "the daemon did not ask for a reload"
        commands = unit_directives(DEPLOY / "station-edge-broker-reload.service")["Service"]["ExecStart"]
        remove, reload = (shlex.split(c) for c in commands)
        assert _run([w.replace(BROKER_DIR, str(self.broker_dir)) for w in remove]).returncode == 0
        assert reload == ["/usr/bin/systemctl", "reload", "mosquitto.service"]
        os.kill(broker_pid, signal.SIGHUP)  # mosquitto.service: ExecReload=/bin/kill -HUP $MAINPID
        assert not flag.exists()

    def camera_can_connect(self, device: str, secret: str) -> subprocess.CompletedProcess[str]:
        words = _walkthrough_line("mosquitto_sub ")
        values = {"127.0.0.1": "127.0.0.1", "THE-PRINTED-SECRET": secret, "cam-0001": device,
                  "bwc/cam-0001/cmd/#": f"bwc/{device}/cmd/#", "3": "1"}
        return _run([*(values.get(w, w) for w in words), "-p", str(self.mqtt_port)])

    def http_get(self, path: str, token: str = "") -> tuple[int, dict[str, object]]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")
        except OSError:
            return 0, {}


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    # Not pytest's tmp_path: its parents are mode 0700, which the mosquitto user could not traverse.
    base = Path(tempfile.mkdtemp(prefix="station-edge-gateway-", dir="/tmp"))
    try:
        yield Gateway(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_first_enrolment_as_the_walkthrough_does_it(gateway: Gateway) -> None:
    if gateway.as_root:
        assert grp.getgrnam("mosquitto"), "Debian's mosquitto package creates the mosquitto group"
    gateway.lay_out()
    gateway.write_config()
    checked = gateway.station_edge("runuser -u station-edge -- station-edge check-config")
    assert checked.returncode == 0, checked.stderr

    provisioned = gateway.station_edge("runuser -u station-edge -- station-edge devices provision")
    assert provisioned.returncode == 0, provisioned.stderr
    for name in ("passwd", "acl"):
        info = (gateway.broker_dir / name).stat()
        assert info.st_mode & 0o777 == 0o640 and info.st_gid == gateway.broker_dir.stat().st_gid

    log = (gateway.base / "mosquitto.log").open("w")
    broker = subprocess.Popen(["mosquitto", "-c", str(gateway.mosquitto_conf())], stdout=log, stderr=log,
                              preexec_fn=die_with_parent)
    daemon_log = (gateway.base / "daemon.log").open("w")
    daemon: subprocess.Popen[bytes] | None = None
    try:
        pid_file = gateway.run_dir / "mosquitto.pid"
        _wait(pid_file.exists, "mosquitto's pid file")
        broker_pid = int(pid_file.read_text().strip())
        daemon = subprocess.Popen([str(STATION_EDGE), "run", "--config", str(gateway.config)], stdout=daemon_log,
                                  stderr=daemon_log, preexec_fn=die_with_parent)
        # Ready means the daemon's own account (written by `devices provision`) got it onto the broker.
        _wait(lambda: gateway.http_get("/readyz")[0] == 200, "the daemon ready and connected to the broker")

        added = gateway.station_edge("runuser -u station-edge -- station-edge devices add")
        assert added.returncode == 0, added.stderr
        secret = added.stdout.strip().splitlines()[-1]
        refused = gateway.camera_can_connect("cam-0001", secret)
        assert refused.returncode != 0 and REFUSED in refused.stderr, "the broker knew the camera before the reload"

        gateway.reload_as_the_path_unit_would(broker_pid)
        _wait(lambda: REFUSED not in gateway.camera_can_connect("cam-0001", secret).stderr,
              "the broker to accept the enrolled camera after the reload")
        accepted = gateway.camera_can_connect("cam-0001", secret)
        assert (accepted.returncode, accepted.stderr) == (27, "Timed out\n"), "what the walk-through says"
        published = _run(["mosquitto_pub", "-p", str(gateway.mqtt_port), "-u", "cam-0001", "-P", secret, "-q", "1",
                          "-t", "bwc/cam-0001/status", "-m", json.dumps(online("cam-0001", 1))])
        assert published.returncode == 0, published.stderr

        def listed_online() -> bool:
            status, body = gateway.http_get("/api/v1/devices", gateway.technician_token)
            items = body.get("items", []) if status == 200 else []
            return any(d.get("device_id") == "cam-0001" and d.get("online") for d in items)  # type: ignore[union-attr]

        _wait(listed_online, "the daemon to list cam-0001 online")

        removed = _run([str(STATION_EDGE), "devices", "remove", "--config", str(gateway.config), "--id", "cam-0001"])
        assert removed.returncode == 0, removed.stderr
        gateway.reload_as_the_path_unit_would(broker_pid)
        _wait(lambda: REFUSED in gateway.camera_can_connect("cam-0001", secret).stderr,
              "the broker to refuse the removed camera")
    finally:
        if daemon is not None:
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(30) == 0, (gateway.base / "daemon.log").read_text()[-3000:]
        broker.terminate()
        broker.wait(10)
        log.close()
        daemon_log.close()
