"""docs/simulators.md, step by step: a technician starts the simulated kiosk, runs the daemon on its config
snippet, flips paper out with `station-edge sim kiosk-fault`, sees it in the API and clears it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.tokens import ROLE_TOKENS

from edge.broker import free_port
from edge.config import Role, ServicesConfig

KIOSK = "K01"
TOKEN = ROLE_TOKENS[Role.TECHNICIAN]


def station_edge() -> list[str]:
    """The installed console script, as the docs use it (falls back to the module in odd environments)."""
    script = Path(sys.executable).with_name("station-edge")
    return [str(script)] if script.exists() else [sys.executable, "-m", "edge.cli"]


def read_banner(proc: subprocess.Popen[str]) -> dict[str, str]:
    assert proc.stdout is not None
    lines: dict[str, str] = {}
    while "control" not in lines:
        line = proc.stdout.readline()
        assert line, "station-edge sim kiosk exited early"
        key, _, value = line.strip().partition(": ")
        lines[key] = value
    return lines


def api(port: int, path: str) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def eventually(check: Callable[[], bool], within: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass  # the daemon is still starting
        time.sleep(0.05)
    raise AssertionError(f"not within {within} s: {what}")


def printer(port: int) -> dict[str, Any]:
    return dict(api(port, f"/api/v1/kiosks/{KIOSK}/devices")["devices"]["printer"])


def printer_alerts(port: int) -> list[dict[str, Any]]:
    items = api(port, "/api/v1/alerts?kind=kiosk.device_degraded")["items"]
    return [a for a in items if a["key"] == f"kiosk:{KIOSK}/printer"]


def station_config(tmp_path: Path, http_port: int, snippet: str) -> Path:
    # Only the kiosk domain (and HTTP): no broker is needed for what this test checks.
    services = "\n".join(
        f"{name} = {'true' if name in ('http', 'kiosk') else 'false'}" for name in ServicesConfig.model_fields
    )
    path = tmp_path / "edge.toml"
    path.write_text(
        f'[station]\nid = "KIOSK-LAB"\ndata_dir = "{tmp_path / "data"}"\n'
        f"[http]\nport = {http_port}\n[services]\n{services}\n"
        f'[[api.tokens]]\nname = "tech"\nrole = "technician"\ntoken = "{TOKEN}"\n\n' + snippet,
        encoding="utf-8",
    )
    return path


@pytest.fixture
def simulated_kiosk(tmp_path: Path) -> Iterator[dict[str, str]]:
    cmd = [
        *station_edge(),
        "sim",
        "kiosk",
        "--dir",
        str(tmp_path / "kiosk-sim"),
        "--receipts",
        str(tmp_path / "receipts"),
        "--port",
        "0",
        "--write-config",
        str(tmp_path / "kiosk.toml"),
    ]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:
        try:
            yield read_banner(proc)
        finally:
            proc.terminate()
            assert proc.wait(30) == 0


@pytest.mark.slow  # three processes start: about 4 s
def test_technician_flips_paper_out_and_back_from_the_command_line(
    tmp_path: Path, simulated_kiosk: dict[str, str]
) -> None:
    sim = simulated_kiosk
    assert sim["printer"] == str(tmp_path / "kiosk-sim" / "printer")
    assert sim["config"] == str(tmp_path / "kiosk.toml")
    snippet = (tmp_path / "kiosk.toml").read_text(encoding="utf-8")
    assert f'port = "{sim["idcard"]}"' in snippet and 'kind = "payment"' in snippet
    http_port = free_port()
    config = station_config(tmp_path, http_port, snippet)
    fault = [*station_edge(), "sim", "kiosk-fault"]
    with subprocess.Popen([*station_edge(), "run", "--config", str(config)], stderr=subprocess.DEVNULL) as daemon:
        try:
            eventually(lambda: printer(http_port)["device"] == "online", what="printer online")

            subprocess.run(
                [*fault, "printer", "paper", "out", "--control", sim["control"]], check=True, stdout=subprocess.DEVNULL
            )
            eventually(lambda: printer(http_port)["media"] == "paper_out", what="paper out in the API")
            eventually(lambda: len(printer_alerts(http_port)) == 1, what="paper-out alert")
            [alert] = printer_alerts(http_port)
            assert alert["severity"] == "warning" and "out of paper" in alert["message"]

            subprocess.run(
                [*fault, "printer", "paper", "full", "--control", sim["control"]], check=True, stdout=subprocess.DEVNULL
            )
            eventually(
                lambda: (
                    printer(http_port) | {"detail": ""}
                    == {"device": "online", "media": "paper_full", "detail": "", "problem": None}
                ),
                what="printer recovered",
            )
            eventually(lambda: printer_alerts(http_port) == [], what="alert cleared")
        finally:
            daemon.terminate()
            assert daemon.wait(60) == 0
