from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.store import SchemaTooNewError, Store
from edge.store.migrations import available


async def test_empty_database_gets_every_migration(tmp_path: Path) -> None:
    store = Store(tmp_path / "station.db")
    await store.open()
    try:
        assert store.schema_version == max(m.version for m in available())
        tables = await store.read(lambda q: set(q.table_counts()))
        assert {"outbox", "custody_log", "dead_letter", "meta", "schema_migrations"} <= tables
    finally:
        await store.close()


async def test_rerun_applies_nothing_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    store = Store(path)
    await store.open()
    await store.write(lambda tx: tx.execute("INSERT INTO meta VALUES ('k', 'v')"))
    await store.close()
    store = Store(path)
    await store.open()
    try:
        rows = await store.read(lambda q: q.all("SELECT version FROM schema_migrations"))
        assert len(rows) == len(available())
        assert await store.read(lambda q: q.scalar("SELECT value FROM meta WHERE key = 'k'")) == "v"
    finally:
        await store.close()


async def test_newer_schema_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    store = Store(path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (9999, 'from_the_future', 'x')")
    conn.close()
    store = Store(path)
    with pytest.raises(SchemaTooNewError, match="9999 is newer than this station-edge"):
        await store.open()
    assert not store.is_open
