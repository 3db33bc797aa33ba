"""Read-only inspection of the station database for ``station-edge db`` (technicians, support).

Built on sqlite-utils' read side (table and view names, row counts, columns) over a connection that cannot
write, three times over: the file is opened read-only (``mode=ro``), ``query_only`` is on, and an authorizer
refuses every statement that is not a read before it runs, so the refusal names what was refused. Safe
beside a running daemon: WAL readers never block its writer. Not for the hot path: the daemon's own writer
(edge/store/database.py) owns transactions and durability.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from edge.store.database import connect

# Pragmas that only report. Those taking a table or index name report on it; the others set a value when
# given one (``PRAGMA journal_mode = DELETE``), so they pass only bare. Every other pragma is refused.
_REPORT_ON_PRAGMAS = frozenset({
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list",
    "integrity_check", "quick_check",
})
_BARE_PRAGMAS = frozenset({
    "user_version", "schema_version", "page_count", "page_size", "freelist_count", "journal_mode",
    "compile_options", "database_list", "function_list", "pragma_list",
})
_READ_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                           sqlite3.SQLITE_RECURSIVE})
# Authorizer action codes share their numbers with result codes in the sqlite3 module: name them explicitly.
_ACTION_NAMES = {getattr(sqlite3, f"SQLITE_{n.upper()}"): n.replace("_", " ") for n in (
    "insert", "update", "delete", "create_table", "create_index", "create_view", "create_trigger",
    "create_temp_table", "create_temp_index", "create_temp_view", "create_temp_trigger", "create_vtable",
    "drop_table", "drop_index", "drop_view", "drop_trigger", "drop_temp_table", "drop_temp_index",
    "drop_temp_view", "drop_temp_trigger", "drop_vtable", "alter_table", "reindex", "analyze", "attach",
    "detach", "transaction", "savepoint", "pragma")}


class NoDatabaseError(Exception):
    pass


class WriteRefusedError(Exception):
    """The statement would write (or attach, or change the connection): ``station-edge db`` only reads."""


class QueryError(Exception):
    """The statement is not valid SQL for this database (syntax, unknown table or column, ...)."""


@dataclass(frozen=True, slots=True)
class TableCount:
    name: str
    kind: str  # "table" or "view"
    rows: int


@dataclass(frozen=True, slots=True)
class Result:
    columns: list[str]
    rows: Iterator[tuple[Any, ...]]


class Inspector:
    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise NoDatabaseError(f"no database at {path}")
        self._conn = connect(path, readonly=True)
        # No PRAGMA recursive_triggers and no plugins: the connection stays exactly as connect() made it.
        self._db = Database(self._conn, recursive_triggers=False, execute_plugins=False)
        self._refused: str | None = None
        self._conn.set_authorizer(self._authorize)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Inspector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def tables(self, *, views: bool = True) -> list[TableCount]:
        found = [TableCount(name, "table", self._db.table(name).count) for name in sorted(self._db.table_names())]
        if views:
            found += [TableCount(name, "view", self._db.view(name).count) for name in sorted(self._db.view_names())]
        return found

    def query(self, sql: str, params: dict[str, Any] | None = None) -> Result:
        self._refused = None
        try:
            cursor = self._db.execute(sql, params or {})
        except sqlite3.DatabaseError as exc:
            raise self._explain(exc) from exc
        columns = [d[0] for d in cursor.description or ()]
        return Result(columns, self._rows(cursor))

    def _rows(self, cursor: sqlite3.Cursor) -> Iterator[tuple[Any, ...]]:
        try:
            for row in cursor:  # noqa: UP028 - ``yield from`` would close the cursor when a half-read generator closes
                yield row
        except sqlite3.DatabaseError as exc:
            raise self._explain(exc) from exc

    def _explain(self, exc: sqlite3.DatabaseError) -> Exception:
        if self._refused is not None:
            return WriteRefusedError(f"refused: station-edge db only reads; this statement would {self._refused}")
        text = str(exc)
        if "readonly" in text or "query_only" in text:
            return WriteRefusedError(f"refused: station-edge db only reads ({text})")
        if isinstance(exc, sqlite3.ProgrammingError | sqlite3.OperationalError | sqlite3.Warning):
            return QueryError(text)
        return QueryError(f"{type(exc).__name__}: {text}")

    def _authorize(self, action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
        if action in _READ_ACTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA and arg1 is not None:
            pragma = arg1.lower()
            if pragma in _REPORT_ON_PRAGMAS or (pragma in _BARE_PRAGMAS and arg2 is None):
                return sqlite3.SQLITE_OK
        name = _ACTION_NAMES.get(action, f"action {action}")
        self._refused = f"{name} {arg1 or ''}".strip()
        return sqlite3.SQLITE_DENY
