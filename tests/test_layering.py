"""The shipped ``edge`` package never imports ``devices`` (the simulators and the demo compose edge from the
outside; ``station-edge demo``/``sim`` reach the CLI through the ``station_edge.commands`` entry point)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EDGE = REPO / "edge"


def _edge_modules() -> list[str]:
    names = []
    for path in sorted(EDGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        if parts[-1] == "__main__":
            continue  # importing it runs its program (it is still checked statically above)
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _imported_names(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):  # every import, also the ones inside functions and TYPE_CHECKING blocks
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
              and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__")
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return found


def test_no_edge_source_file_imports_devices() -> None:
    offenders = []
    files = sorted(EDGE.rglob("*.py"))
    assert len(files) > 50, "the walk found the edge package"
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, name in _imported_names(tree):
            if name == "devices" or name.startswith("devices."):
                offenders.append(f"{path.relative_to(REPO)}:{line} imports {name}")
    assert offenders == []


def test_the_checker_sees_imports_inside_functions() -> None:
    # The check above must be able to fail: a lazy import in a function body is what edge/cli.py used to do.
    tree = ast.parse("def f():\n    from devices.simulators.kiosk import cli\n    import devices.demo\n")
    assert [n for _, n in _imported_names(tree)] == ["devices.simulators.kiosk", "devices.demo"]


def test_importing_every_edge_module_loads_nothing_from_devices() -> None:
    script = (
        "import importlib, json, sys\n"
        f"for name in {_edge_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'devices' or m.startswith('devices.'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_demo_and_sim_reach_the_cli_through_the_entry_point() -> None:
    from importlib.metadata import entry_points

    from edge.cli import COMMAND_ENTRY_POINTS, build_parser

    entries = {e.name: e.value for e in entry_points(group=COMMAND_ENTRY_POINTS)}
    assert entries == {"devices": "devices.cli:register"}
    commands = next(a for a in build_parser()._actions if a.dest == "command")
    assert {"demo", "sim"} <= set(commands.choices)  # type: ignore[arg-type]


def test_every_domain_is_built_from_station_parts_not_the_daemon() -> None:
    wirings = sorted(EDGE.rglob("wiring.py"))
    assert {p.relative_to(EDGE).as_posix() for p in wirings} >= {
        "bodycam/wiring.py", "bodycam/footage/wiring.py", "cases/wiring.py", "kiosk/wiring.py"}
    for path in wirings:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert all(name != "edge.daemon" for _, name in _imported_names(tree)), f"{path} imports the daemon"
        build = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "build")
        first = build.args.args[0]
        assert (first.arg, ast.unparse(first.annotation or ast.Constant(None))) == ("parts", "StationParts"), path


def test_a_broken_command_add_on_leaves_the_core_commands_working(tmp_path: Path) -> None:
    # A real installed distribution (a dist-info on the path) whose entry point names a module that is gone.
    dist = tmp_path / "broken_addon-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-addon\nVersion: 1.0\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text('[station_edge.commands]\nbroken = no_such_module.cli:register\n',
                                           encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "edge.cli", "version"], capture_output=True, text=True,
                            cwd=REPO, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("station-edge ")
    assert "skipping commands from 'no_such_module.cli:register'" in result.stderr
    assert "No module named 'no_such_module'" in result.stderr
