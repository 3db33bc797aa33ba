"""Numbered SQL migrations (``migrations/NNNN_name.sql``), applied in order at start, each atomically."""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class SchemaTooNewError(Exception):
    """The database was written by a newer station-edge; running older code on it could corrupt it."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    found: list[Migration] = []
    for entry in resources.files("edge.store").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers: {versions}")
    return found


def apply_migrations(conn: sqlite3.Connection) -> int:
    """Bring the schema up to date; return the schema version. Refuses a database from the future."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    migrations = available()
    known = {m.version for m in migrations}
    newest_known = max(known, default=0)
    unknown = sorted(v for v in applied if v not in known)
    if unknown and max(unknown) > newest_known:
        raise SchemaTooNewError(
            f"database schema version {max(unknown)} is newer than this station-edge understands "
            f"(up to {newest_known}); upgrade station-edge or restore a matching backup"
        )
    for migration in migrations:
        if migration.version in applied:
            continue
        log.info("applying migration %04d_%s", migration.version, migration.name)
        # executescript runs outside Python's transaction handling, so the script carries its own.
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{migration.sql}\n;"
                f"INSERT INTO schema_migrations VALUES ({migration.version}, '{migration.name}',"
                " strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));\nCOMMIT;"
            )
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return max(applied | known, default=0)
