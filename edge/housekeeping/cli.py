"""``station-edge db prune``: one retention run now, with progress, on the config's database.

Best run while the daemon is stopped; alongside a running daemon it works too (SQLite lets one writer in
at a time and the batches are small), only slower.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import TypeAlias

from edge.config import ConfigError, load
from edge.housekeeping.config import RetentionConfig
from edge.housekeeping.pruner import Pruner, PruneReport, RuleReport
from edge.store import Store
from edge.timeutil import from_iso

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_prune(actions: Commands) -> None:
    """Add ``prune`` to the ``station-edge db`` group (edge/store/cli.py makes the group)."""
    prune = actions.add_parser("prune", help="apply retention now (writes)", description=(
        "Delete what the [retention] section allows (in small batches; held and case-linked footage's "
        "telemetry and events stay), give the space back to the disk and truncate the WAL. Prints each "
        "table as it goes and a summary."))
    prune.add_argument("--config", type=Path, required=True, help="path to edge.toml")
    prune.add_argument("--now", type=_moment, default=None,
                       help="treat this ISO time as now (e.g. 2027-01-01T00:00:00Z); default: the clock")
    prune.set_defaults(func=cmd_prune)


def _moment(text: str) -> datetime:
    try:
        return from_iso(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO time with a zone: {text!r} ({exc})") from None


def cmd_prune(args: argparse.Namespace) -> int:
    try:
        config = load(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not config.database_path.exists():
        print(f"no database at {config.database_path}", file=sys.stderr)
        return 1
    report = asyncio.run(_prune(config.database_path, config.retention, args.now))
    print(report.summary(), file=sys.stderr if report.failed else sys.stdout)
    return 1 if report.failed else 0


async def _prune(path: Path, retention: RetentionConfig, now: datetime | None) -> PruneReport:
    store = Store(path, convert_limit_bytes=None)  # offline: a large file may take its time to convert
    await store.open()
    try:
        return await Pruner(store, retention, on_rule=_progress).run(now)
    finally:
        await store.close()


def _progress(rule: RuleReport) -> None:
    if rule.error:
        print(f"{rule.name}: failed: {rule.error}", file=sys.stderr, flush=True)
        return
    print(f"{rule.name}: {rule.deleted} rows deleted before {rule.cutoff} in {rule.batches} batch(es)"
          f" (largest {rule.largest_batch} rows, slowest {rule.slowest_batch_ms:.1f} ms"
          + (f", {rule.kept_spans} footage spans kept" if rule.kept_spans else "") + ")", flush=True)
