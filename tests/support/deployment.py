"""Reading the shipped deployment files: systemd units, the Mosquitto include, the walk-through's shell."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = ("station-edge.service", "station-edge-broker-reload.path", "station-edge-broker-reload.service")
OPERATIONS = ROOT / "docs" / "operations.md"
INSTALL_PREFIX = Path("/opt/station-edge")  # where the walk-through and the units put the source tree


def unit_directives(path: Path) -> dict[str, dict[str, list[str]]]:
    """section -> key -> values in order (systemd keys may repeat, e.g. ExecStart= of a oneshot)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: directive outside a section: {line}"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def mosquitto_directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            found.setdefault(key, []).append(value.strip())
    return found


def default_config() -> dict[str, object]:
    return tomllib.loads((ROOT / "config" / "edge.toml").read_text(encoding="utf-8"))


def install_section() -> str:
    text = OPERATIONS.read_text(encoding="utf-8")
    start = text.index("## Install on a gateway")
    return text[start:text.index("\n## ", start + 3)]


def shell_blocks(markdown: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", markdown, flags=re.DOTALL)


def systemd_verify(units: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze verify`` in a scratch root laid out as the walk-through installs things.

    systemd is not PID 1 in the test container, so the units are verified offline (``--root``): unit
    syntax, dependencies against the distribution's own units (copied in), and that every Exec binary
    exists and is executable at the path the unit names.
    """
    tool = shutil.which("systemd-analyze")
    assert tool is not None, "systemd-analyze is missing: scripts/setup test installs Debian's systemd"
    root = Path(tempfile.mkdtemp(prefix="units-root-"))
    try:
        (root / "etc/systemd/system").mkdir(parents=True)
        for name, text in units.items():
            (root / "etc/systemd/system" / name).write_text(text, encoding="utf-8")
        shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
        for section in (unit_directives(root / "etc/systemd/system" / n) for n in units):
            for key in ("ExecStart", "ExecStartPre"):
                for command in section.get("Service", {}).get(key, []):
                    binary = Path(command.split()[0].lstrip("-@:+!"))
                    source = (ROOT / binary.relative_to(INSTALL_PREFIX) if binary.is_relative_to(INSTALL_PREFIX)
                              else binary)
                    if source.exists():  # the real file (ours or the host's); a missing one stays missing
                        target = root / binary.relative_to("/")
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(source, target)
        # One unit a run: a unit verified as another one's trigger target has its commands checked only
        # when it is named itself.
        runs = [subprocess.run([tool, f"--root={root}", "--man=no", "verify", name], capture_output=True,
                               text=True, timeout=60) for name in units]
        return subprocess.CompletedProcess([tool, "verify", *units], max(r.returncode for r in runs),
                                           "".join(r.stdout for r in runs), "".join(r.stderr for r in runs))
    finally:
        shutil.rmtree(root, ignore_errors=True)
