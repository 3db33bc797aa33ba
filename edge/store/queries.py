"""The project's own face of a SQLite connection: dict rows, typed helpers, no sqlite3 outside the store."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

Params = Sequence[Any] | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Executed:
    rowcount: int
    lastrowid: int | None


class Queries:
    """Read helpers over one connection. Instances are handed to callbacks; never kept past them."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def one(self, sql: str, params: Params = ()) -> dict[str, Any] | None:
        row = self._conn.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def all(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self._conn.execute(sql, params)]

    def iterate(self, sql: str, params: Params = ()) -> Iterator[dict[str, Any]]:
        for row in self._conn.execute(sql, params):
            yield dict(row)

    def tuples(self, sql: str, params: Params = ()) -> Iterator[tuple[Any, ...]]:
        """Plain tuples for hot loops over many rows (a dict per row would cost more than the work)."""
        cursor = self._conn.execute(sql, params)
        cursor.row_factory = None
        yield from cursor

    def scalar(self, sql: str, params: Params = ()) -> Any:
        row = self._conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def table_counts(self) -> dict[str, int]:
        db = sqlite_utils.Database(self._conn)
        return {name: db[name].count for name in db.table_names()}


class Tx(Queries):
    """A write transaction (really a savepoint inside the writer's group commit)."""

    def execute(self, sql: str, params: Params = ()) -> Executed:
        cursor = self._conn.execute(sql, params)
        return Executed(cursor.rowcount, cursor.lastrowid)

    def executemany(self, sql: str, rows: Iterable[Params]) -> int:
        return self._conn.executemany(sql, rows).rowcount

    def run_script(self, sql: str) -> None:
        """Run statements to completion in autocommit mode: only inside ``Store.maintain`` (it commits
        any open transaction first). PRAGMA incremental_vacuum needs it: one step frees one page."""
        self._conn.executescript(sql)

    def insert_all(self, table: str, rows: Iterable[dict[str, Any]], *, ignore: bool = False) -> None:
        """Bulk insert of dict rows into an existing table (columns taken from the first row)."""
        sqlite_utils.Database(self._conn).table(table).insert_all(
            rows, ignore=ignore, batch_size=500, alter=False
        )
