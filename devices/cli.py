"""The command groups devices/ adds to ``station-edge``: ``demo`` and ``sim …``.

Declared in pyproject.toml under ``[project.entry-points."station_edge.commands"]``; edge/cli.py loads every
entry of that group, so the shipped ``edge`` package never imports devices/ (a station installed without the
simulators simply has no ``demo``/``sim`` commands).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TypeAlias

from devices.simulators import cli as simulators_cli
from edge import logs

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def cmd_demo(args: argparse.Namespace) -> int:
    logs.configure(args.log_format or "text", args.log_level or "info")
    from devices.demo.station import run_demo

    code: int = asyncio.run(run_demo(args.dir, http_port=args.http_port))
    return code


def _register_demo(commands: Commands) -> None:
    from edge.cli import add_logging_options

    demo = commands.add_parser("demo", help="run a self-contained demo station", description=(
        "Start a private Mosquitto broker, the daemon with embedded defaults and the simulators, and print "
        "where to look. Ctrl-C stops everything."))
    demo.add_argument("--dir", type=Path, default=Path(".demo"), help="working directory (default: ./.demo)")
    demo.add_argument("--http-port", type=int, default=8080, help="HTTP port (default 8080; a free one if busy)")
    add_logging_options(demo)
    demo.set_defaults(func=cmd_demo)


def register(commands: Commands) -> None:
    _register_demo(commands)
    simulators_cli.register(commands)
