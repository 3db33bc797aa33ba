"""The database gives space back: new files are made with incremental auto_vacuum, an older file is
converted once at start, and prune + vacuum + checkpoint shrink a real file and its WAL."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.storage import add_track, count

from edge.housekeeping.config import RetentionConfig
from edge.housekeeping.pruner import Pruner
from edge.store import Store
from edge.store.migrations import apply_migrations
from edge.store.vacuum import file_sizes

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _auto_vacuum(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA auto_vacuum").fetchone()[0])
    finally:
        conn.close()


async def test_a_new_database_has_incremental_auto_vacuum(tmp_path: Path) -> None:
    store = Store(tmp_path / "station.db")
    await store.open()
    await store.close()
    assert _auto_vacuum(tmp_path / "station.db") == 2


async def test_an_existing_database_is_converted_once_at_start(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "station.db"
    conn = sqlite3.connect(path, isolation_level=None)  # how a database made before this change looks
    conn.execute("PRAGMA journal_mode = WAL")
    apply_migrations(conn)
    conn.execute("INSERT INTO meta VALUES ('kept', 'yes')")
    conn.close()
    assert _auto_vacuum(path) == 0
    caplog.set_level(logging.WARNING, logger="edge.store.vacuum")
    store = Store(path)
    await store.open()
    assert await store.read(lambda q: q.scalar("SELECT value FROM meta WHERE key = 'kept'")) == "yes"
    await store.close()
    assert _auto_vacuum(path) == 2
    assert any("converting it once with VACUUM" in r.getMessage() for r in caplog.records)
    assert any("converted to incremental auto_vacuum" in r.getMessage() for r in caplog.records)
    caplog.clear()
    store = Store(path)  # the second start has nothing to convert
    await store.open()
    await store.close()
    assert not [r for r in caplog.records if "VACUUM" in r.getMessage()]


async def test_prune_vacuum_and_checkpoint_shrink_the_file(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    store = Store(path)
    await store.open()
    try:
        for cam in range(10):
            await add_track(store, f"cam-{cam:04d}", T0, 1200, every_s=6)  # 12,000 old rows each
        await add_track(store, "cam-fresh", T0 + timedelta(days=199), 60)
        grown = file_sizes(path)
        report = await Pruner(store, RetentionConfig(batch_pause_s=0)).run(T0 + timedelta(days=200))
        after = file_sizes(path)
        assert report.rules["telemetry"].deleted == 120_000
        assert await count(store, "SELECT count(*) FROM telemetry") == 60
        assert report.vacuumed_pages > 0 and report.vacuum_steps > 1  # small steps, not one big vacuum
        assert report.checkpoint is not None and not report.checkpoint.busy
        assert after.wal == 0, after  # TRUNCATE checkpoint
        assert after.database < grown.total / 5, (grown, after)
        assert await store.read(lambda q: q.scalar("PRAGMA freelist_count")) == 0
    finally:
        await store.close()
