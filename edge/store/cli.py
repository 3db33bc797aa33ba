"""``station-edge db tables | query``: look into the station database without changing it."""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeAlias

from edge.config import ConfigError, load
from edge.store.inspection import Inspector, NoDatabaseError, QueryError, WriteRefusedError

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2


def _database(args: argparse.Namespace) -> Path | int:
    if args.db is not None:
        return Path(args.db)
    try:
        return load(args.config).database_path
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG


def _cell(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()  # blobs (hashes, payloads) as hex: JSON and CSV cannot hold raw bytes
    return value


def _text(value: Any) -> str:
    return "NULL" if value is None else str(_cell(value))


def _print_table(columns: list[str], rows: Iterable[tuple[Any, ...]], out: TextIO) -> int:
    cells = [[_text(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip(), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip(), file=out)
    return len(cells)


def _emit(columns: list[str], rows: Iterable[tuple[Any, ...]], fmt: str, out: TextIO | None = None) -> None:
    out = out or sys.stdout  # looked up per call: tests and callers may have replaced it
    if fmt == "json":
        print(json.dumps([dict(zip(columns, map(_cell, row), strict=True)) for row in rows], ensure_ascii=False,
                         indent=2, default=str), file=out)
    elif fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows([_cell(v) for v in row] for row in rows)
    else:
        _print_table(columns, rows, out)


def _inspect(args: argparse.Namespace) -> Inspector | int:
    path = _database(args)
    if isinstance(path, int):
        return path
    try:
        return Inspector(path)
    except NoDatabaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def cmd_tables(args: argparse.Namespace) -> int:
    inspector = _inspect(args)
    if isinstance(inspector, int):
        return inspector
    with inspector:
        found = inspector.tables(views=not args.no_views)
    _emit(["name", "kind", "rows"], [(t.name, t.kind, t.rows) for t in found], args.format)
    return EXIT_OK


def cmd_query(args: argparse.Namespace) -> int:
    inspector = _inspect(args)
    if isinstance(inspector, int):
        return inspector
    params = dict(p.split("=", 1) for p in args.param)
    with inspector:
        try:
            result = inspector.query(args.sql, params)
            rows = list(itertools.islice(result.rows, args.limit))
        except WriteRefusedError as exc:
            print(str(exc), file=sys.stderr)
            return EXIT_FAILURE
        except QueryError as exc:
            print(f"error in query: {exc}", file=sys.stderr)
            return EXIT_FAILURE
    _emit(result.columns, rows, args.format)
    return EXIT_OK


def _source(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="path to edge.toml (uses its data directory)")
    source.add_argument("--db", type=Path, help="path to a station.db file")
    parser.add_argument("--format", choices=["table", "json", "csv"], default="table",
                        help="output format (default: an aligned table)")


def register(commands: Commands, more_actions: Sequence[Callable[[Commands], None]] = ()) -> None:
    db = commands.add_parser("db", help="inspect the station database; apply retention", description=(
        "Look into the station database without changing it: list tables with row counts, or run one "
        "read-only SQL statement (write statements are refused). Both work beside a running daemon. "
        "`prune` applies the [retention] section now."))
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    tables = actions.add_parser("tables", help="list tables and views with their row counts",
                                description="List every table (and view) with its row count.")
    _source(tables)
    tables.add_argument("--no-views", action="store_true", help="tables only")
    tables.set_defaults(func=cmd_tables)
    query = actions.add_parser("query", help="run one read-only SQL statement", description=(
        "Run one SELECT (or a reporting PRAGMA such as table_info) and print the rows. Anything that would "
        "write, attach a file or change the connection is refused with exit code 1."))
    query.add_argument("sql", help='the statement, e.g. "SELECT device_id, count(*) FROM telemetry GROUP BY 1"')
    _source(query)
    query.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="a named parameter for :NAME in the statement (repeat)")
    query.add_argument("--limit", type=int, help="print at most this many rows")
    query.set_defaults(func=cmd_query)
    for add in more_actions:
        add(actions)
