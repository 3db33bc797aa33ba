"""Migration 0006 on a database written before it: the old states map onto the uplink's, every row keeps its
id and content, and gains its class, byte count and (for a failure) a reason."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.store import Store, StoreError, uplink_queue
from edge.store.migrations import available
from edge.store.uplink_queue import TrafficClass

T = "2026-01-01T00:00:00.000000Z"
SHA = "cd" * 32


def _schema_before_0006(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                 " applied_at TEXT NOT NULL)")
    for m in available():
        if m.version != 6:  # a station that ran every migration up to the newest, but not this one
            conn.executescript(f"BEGIN;\n{m.sql}\n;INSERT INTO schema_migrations VALUES ({m.version}, '{m.name}',"
                               f" '{T}');\nCOMMIT;")
    rows = [
        (1, "sos", 0, "sos:cam-1:1", '{"où":"ici"}', None, None, None, "pending", 0, None, None),
        (2, "case.link", 1, "case-link:st-1:7", '{"n":7}', None, None, None, "sending", 2, None, None),
        (3, "footage.file", 2, f"footage:{SHA}", None, "/f/a.mp4", 12345, SHA, "acked", 1, None,
         '{"reference":"obj-1"}'),
        (4, "kiosk.session", 2, "kiosk:1", '{"k":1}', None, None, None, "failed", 5, "http 422", None),
        (5, "telemetry.batch", 3, "tm:1", '{"t":1}', None, None, None, "failed", 1, None, None),
    ]
    conn.executemany("INSERT INTO outbox (id, kind, priority, dedupe_key, payload, file_path, file_size, file_sha256,"
                     " state, attempts, last_error, receipt, created_at, updated_at, next_attempt_at)"
                     f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{T}', '{T}', '{T}')", rows)
    conn.close()


async def test_old_states_map_onto_the_uplink_states_with_their_data(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    _schema_before_0006(path)
    store = Store(path)
    await store.open()
    try:
        rows = await store.read(lambda q: q.all(
            "SELECT id, uplink_class, state, bytes, lease_owner, failed_reason, last_error, attempts, receipt,"
            " idempotency_key FROM outbox ORDER BY id"))
        assert [(r["id"], r["uplink_class"], r["state"], r["bytes"]) for r in rows] == [
            (1, "critical", "pending", len('{"où":"ici"}'.encode())),  # bytes, not characters
            (2, "evidence", "in_flight", 7),
            (3, "routine", "confirmed", 12345),
            (4, "kiosk", "failed", 7),
            (5, "telemetry", "failed", 7),
        ]
        assert rows[1]["lease_owner"] == "before-0006"  # nobody holds it: recovered at the next drain's start
        assert [r["failed_reason"] for r in rows[3:]] == ["http 422", "unrecorded"]
        assert rows[2]["receipt"] == '{"reference":"obj-1"}' and rows[3]["attempts"] == 5
        assert all(r["idempotency_key"] is None for r in rows)  # assigned at the first claim
        indexes = await store.read(lambda q: {r["name"] for r in q.all(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox'")})
        assert {"outbox_due", "outbox_expiry"} <= indexes

        now = datetime(2026, 1, 2, tzinfo=UTC)
        assert await store.write(lambda tx: uplink_queue.recover_leases(tx, owner="run-1", now=now)) == 1
        [link] = await store.write(lambda tx: uplink_queue.claim(tx, TrafficClass.EVIDENCE, owner="run-1",
                                                                 station_id="st-1", now=now))
        assert (link.dedupe_key, link.attempts) == ("case-link:st-1:7", 3)
        # The rebuilt table keeps the old rules: one dedupe key, a payload or a file.
        with pytest.raises(StoreError, match="UNIQUE"):
            await store.write(lambda tx: tx.execute(
                "INSERT INTO outbox (kind, priority, dedupe_key, payload, bytes, created_at, updated_at,"
                f" next_attempt_at) VALUES ('x', 3, 'tm:1', '{{}}', 2, '{T}', '{T}', '{T}')"))
    finally:
        await store.close()
    assert store.schema_version == max(m.version for m in available())


async def test_a_new_database_gets_the_same_table(tmp_path: Path) -> None:
    store = Store(tmp_path / "new.db")
    await store.open()
    try:
        columns = await store.read(lambda q: [r["name"] for r in q.all(
            "SELECT name FROM pragma_table_xinfo('outbox')")])
    finally:
        await store.close()
    for column in ("uplink_class", "idempotency_key", "bytes", "expires_at", "lease_owner", "leased_at",
                   "failed_reason", "generation"):
        assert column in columns
