"""Giving freed space back to the disk: auto_vacuum=INCREMENTAL, small vacuum steps, WAL checkpoints.

Deleting rows only puts their pages on SQLite's freelist; the file never shrinks by itself. With
``auto_vacuum = INCREMENTAL`` the file keeps pointer maps so that ``PRAGMA incremental_vacuum(N)`` can
move up to N free pages to the end and cut them off, in steps small enough that the single writer is
never held for long. SQLite only lets auto_vacuum be chosen before the first table exists, so new files
get it in ``connect()`` and an older file is converted once, at start, by a VACUUM (logged).

The WAL grows with every write until a checkpoint copies it back; ``wal_checkpoint(TRUNCATE)`` then cuts
the WAL file to zero bytes. It waits for readers only briefly (``busy_ms``) so it never stalls writes.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from edge.store.queries import Tx

log = logging.getLogger(__name__)

INCREMENTAL = 2  # PRAGMA auto_vacuum value


# Converting at start holds the start up (systemd's start timeout and watchdog run meanwhile), so a large
# file is left to ``station-edge db prune``, run once with the daemon stopped.
START_CONVERSION_LIMIT = 256 * 2**20


def ensure_incremental_vacuum(conn: sqlite3.Connection, limit_bytes: int | None = START_CONVERSION_LIMIT) -> bool:
    """Convert a database made without auto_vacuum (one VACUUM, once); True if it converted.

    A file above ``limit_bytes`` is not converted (logged: how to do it). A failure (typically: not enough
    free disk for the copy VACUUM writes) is logged and the database is used as it is: start-up never fails
    for want of shrinking.
    """
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == INCREMENTAL:
        return False
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    if limit_bytes is not None and pages * page_size > limit_bytes:
        log.warning("database (%.1f MB) has no incremental auto_vacuum, so pruned rows do not give space back "
                    "to the disk; converting it takes a while: stop the daemon and run 'station-edge db prune "
                    "--config ...' once (it converts, then prunes)", pages * page_size / 1e6)
        return False
    log.warning("database has no incremental auto_vacuum: converting it once with VACUUM (%.1f MB; needs as "
                "much free disk again, and this start waits for it)", pages * page_size / 1e6)
    started = time.monotonic()
    try:
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("VACUUM")
    except sqlite3.Error as exc:
        log.error("converting the database to incremental auto_vacuum failed (it keeps working, but deleted "
                  "rows will not give space back to the disk): %s", exc)
        return False
    log.warning("database converted to incremental auto_vacuum in %.1f s (%.1f MB)", time.monotonic() - started,
                conn.execute("PRAGMA page_count").fetchone()[0] * page_size / 1e6)
    return True


@dataclass(frozen=True, slots=True)
class VacuumStep:
    freed_pages: int
    free_pages_left: int
    ms: float


def vacuum_step(tx: Tx, pages: int) -> VacuumStep:
    """Give back up to ``pages`` free pages to the filesystem (run through ``Store.maintain``)."""
    started = time.perf_counter()
    before = int(tx.scalar("PRAGMA freelist_count"))
    if before:
        tx.run_script(f"PRAGMA incremental_vacuum({int(pages)})")
    after = int(tx.scalar("PRAGMA freelist_count"))
    return VacuumStep(before - after, after, (time.perf_counter() - started) * 1000)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    busy: bool  # a reader kept part of the WAL alive: it is cut at a later checkpoint
    wal_pages: int
    copied_pages: int
    ms: float


def checkpoint(tx: Tx, *, busy_ms: int = 50) -> Checkpoint:
    """Copy the WAL into the database and truncate it (run through ``Store.maintain``)."""
    started = time.perf_counter()
    tx.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
    try:
        row = tx.one("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        tx.execute("PRAGMA busy_timeout = 5000")
    assert row is not None
    busy, wal_pages, copied = (int(v) for v in row.values())
    return Checkpoint(bool(busy), wal_pages, copied, (time.perf_counter() - started) * 1000)


@dataclass(frozen=True, slots=True)
class FileSizes:
    database: int
    wal: int

    @property
    def total(self) -> int:
        return self.database + self.wal


def file_sizes(path: Path) -> FileSizes:
    """Bytes of the database file and of its WAL (0 when absent); two stat calls, cheap enough per scrape."""
    return FileSizes(_size(path), _size(path.with_name(path.name + "-wal")))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
