"""Telemetry rows: times given as epoch microseconds are stored as exactly ``to_iso`` text, redeliveries
are skipped, and migration 0104 (one index instead of two) keeps the rows a station already has."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.store import Store
from edge.store import telemetry as rows
from edge.store.database import connect
from edge.store.migrations import apply_migrations, available
from edge.store.queries import Tx
from edge.timeutil import to_iso


def _row(seq: int, at: datetime, *, msg_id: str | None = None, gps: bool = True) -> tuple[Any, ...]:
    us = rows.epoch_us(at)
    return ("cam-0001", seq, msg_id or f"m{seq}", us, us + 1500, 22.5 if gps else None, 114.0 if gps else None,
            5.0 if gps else None, us if gps else None, 80, 30_000, 1, -90, 250, "new")


async def _stored(store: Store) -> list[dict[str, Any]]:
    return await store.read(lambda q: q.all("SELECT seq, device_ts, received_at, fix_at, lat FROM telemetry"
                                            " ORDER BY seq"))


moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31),
                       timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))]))


@pytest.fixture(scope="module")
def schema() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    apply_migrations(conn)
    yield conn
    conn.close()


@settings(max_examples=300, deadline=None)
@given(moment=moments)
def test_epoch_microseconds_are_stored_as_the_to_iso_text(schema: sqlite3.Connection, moment: datetime) -> None:
    # Text equal to to_iso keeps string order = time order for the track queries.
    schema.execute("DELETE FROM telemetry")
    assert rows.insert_telemetry(Tx(schema), [_row(1, moment)]) == 1
    stored = schema.execute("SELECT device_ts, received_at, fix_at FROM telemetry").fetchall()
    assert stored == [(to_iso(moment), to_iso(moment + timedelta(microseconds=1500)), to_iso(moment))]


async def test_redelivered_rows_are_skipped_and_new_ones_counted(tmp_path: Path) -> None:
    store = Store(tmp_path / "station.db")
    await store.open()
    try:
        at = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
        first = [_row(1, at), _row(2, at + timedelta(seconds=1), gps=False)]
        assert await store.write(lambda tx: rows.insert_telemetry(tx, first), durable=False) == 2
        again = [*first, _row(3, at + timedelta(seconds=2))]
        assert await store.write(lambda tx: rows.insert_telemetry(tx, again), durable=False) == 1
        stored = await _stored(store)
        assert [r["seq"] for r in stored] == [1, 2, 3]
        assert stored[1]["fix_at"] is None and stored[1]["lat"] is None
        assert stored[0]["device_ts"] == "2026-11-22T08:00:00.000000Z"
        assert stored[0]["received_at"] == "2026-11-22T08:00:00.001500Z"
        track = await store.read(lambda q: rows.track(q, "cam-0001", at, at + timedelta(minutes=1), limit=10))
        assert [p["seq"] for p in track] == [1, 3]  # fixes only, oldest first
    finally:
        await store.close()


async def test_migration_0104_keeps_existing_rows_and_their_duplicate_guard(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    conn = connect(path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                 " applied_at TEXT NOT NULL)")
    for migration in available():
        if migration.version >= 104:
            continue
        conn.executescript(f"BEGIN;\n{migration.sql}\n;INSERT INTO schema_migrations VALUES"
                           f" ({migration.version}, '{migration.name}', 'x');\nCOMMIT;")
    # A row written by the schema before 0104, with the text times it used then.
    conn.execute("INSERT INTO telemetry (device_id, seq, msg_id, device_ts, received_at, battery_pct,"
                 " storage_free_mb, recording, signal_dbm) VALUES ('cam-0001', 7, 'm7',"
                 " '2026-11-01T00:00:00.000000Z', '2026-11-01T00:00:00.100000Z', 50, 100, 0, -80)")
    conn.commit()
    conn.close()

    store = Store(path)
    await store.open()
    try:
        kept = await store.read(lambda q: q.all("SELECT seq, msg_id, device_ts FROM telemetry"))
        assert kept == [{"seq": 7, "msg_id": "m7", "device_ts": "2026-11-01T00:00:00.000000Z"}]
        redelivered = _row(7, datetime(2026, 11, 1, tzinfo=UTC), msg_id="m7")
        assert await store.write(lambda tx: rows.insert_telemetry(tx, [redelivered]), durable=False) == 0
        indexes = await store.read(lambda q: q.all(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'telemetry'"))
        assert len(indexes) == 1, indexes
    finally:
        await store.close()
