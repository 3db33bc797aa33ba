"""The database gives space back: new files are made with incremental auto_vacuum, an older file is
converted once at start, and prune + vacuum + checkpoint shrink a real file and its WAL."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.storage import add_track, count
from support.tmpfs import mounted_tmpfs

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


@pytest.fixture
def tiny_fs(tmp_path: Path):  # type: ignore[no-untyped-def]
    with mounted_tmpfs(tmp_path / "tiny", "7m") as mount:
        yield mount


async def test_a_conversion_that_finds_no_room_is_logged_and_the_store_still_opens(
        tiny_fs: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tiny_fs / "station.db"
    conn = sqlite3.connect(path, isolation_level=None)  # rollback journal: the setup itself fits
    apply_migrations(conn)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO dead_letter (at, source, channel, reason, detail, payload, payload_size)"
                     " VALUES ('2026-01-01T00:00:00.000000Z', 'mqtt', 't', 'r', 'd', ?, 1)", [(b"\0" * 50_000,)] * 80)
    conn.execute("COMMIT")
    conn.close()  # about 4 MB on a 7 MB disk: VACUUM cannot write its 4 MB copy
    caplog.set_level(logging.WARNING, logger="edge.store.vacuum")
    store = Store(path)
    await store.open()
    try:
        assert await count(store, "SELECT count(*) FROM dead_letter") == 80
    finally:
        await store.close()
    assert any("converting the database to incremental auto_vacuum failed" in r.getMessage() for r in caplog.records)
    assert _auto_vacuum(path) == 0


async def test_a_large_old_database_is_left_for_db_prune_to_convert(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    import asyncio

    from edge.cli import main

    data = tmp_path / "data"
    data.mkdir()
    path = data / "station.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    apply_migrations(conn)
    conn.close()
    caplog.set_level(logging.WARNING, logger="edge.store.vacuum")
    store = Store(path, convert_limit_bytes=1)  # "large": above the limit the daemon does not convert at start
    await store.open()
    await store.close()
    assert _auto_vacuum(path) == 0
    assert any("run 'station-edge db prune" in r.getMessage() for r in caplog.records)
    config = tmp_path / "edge.toml"
    config.write_text(f'[station]\nid = "S1"\ndata_dir = "{data}"\n')
    assert await asyncio.to_thread(main, ["db", "prune", "--config", str(config)]) == 0
    assert _auto_vacuum(path) == 2
