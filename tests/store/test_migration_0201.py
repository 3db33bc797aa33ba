"""Migration 0201 (footage attribution) on a database that already holds footage: the backfill is right."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edge.store import Store
from edge.store.migrations import available

T = "2026-01-01T00:00:00.000000Z"


def _schema_before_0201(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                 " applied_at TEXT NOT NULL)")
    for m in available():
        if m.version < 201:
            conn.executescript(f"BEGIN;\n{m.sql}\n;INSERT INTO schema_migrations VALUES ({m.version}, '{m.name}',"
                               f" '{T}');\nCOMMIT;")
    for ingest, actor, marked, recorded in (("i1", "device:cam-0001", 1, T), ("i2", "technician:ann", 0, None)):
        conn.execute("INSERT INTO ingests (id, source, device_id, actor, file_name, length, declared_sha256, marked,"
                     " recorded_at, state, created_at, updated_at) VALUES (?, 'upload', 'cam-0001', ?, ?, 10, ?, ?,"
                     " ?, 'complete', ?, ?)", (ingest, actor, f"{ingest}.mp4", ingest * 32, marked, recorded, T, T))
        conn.execute("INSERT INTO footage (sha256, size, path, state, device_id, file_name, source, ingest_id,"
                     " ingested_at) VALUES (?, 10, ?, 'good', 'cam-0001', ?, 'upload', ?, ?)",
                     (ingest * 32, f"files/{ingest}", f"{ingest}.mp4", ingest, T))
    conn.execute("INSERT INTO expected_footage (device_id, file_name, device_start, device_end, size_bytes, sha256,"
                 " marked, announced_at, announced_device_ts, deadline_at, fulfilled_at, footage_id) VALUES"
                 " ('cam-0001', 'i1.mp4', ?, '2026-01-01T00:05:00.000000Z', 10, ?, 1, ?, ?, ?, ?, '1')",
                 (T, "i1" * 32, T, T, T, T))
    conn.close()


async def test_backfill_records_uploader_claims_and_which_files_were_announced(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    _schema_before_0201(path)
    store = Store(path)
    await store.open()
    try:
        rows = await store.read(lambda q: q.all(
            "SELECT id, uploaded_by, unannounced, recorded_end, declared_marked, declared_recorded_at FROM footage"
            " ORDER BY id"))
    finally:
        await store.close()
    assert rows == [
        {"id": 1, "uploaded_by": "device:cam-0001", "unannounced": 0, "recorded_end": "2026-01-01T00:05:00.000000Z",
         "declared_marked": 1, "declared_recorded_at": T},
        {"id": 2, "uploaded_by": "technician:ann", "unannounced": 1, "recorded_end": None, "declared_marked": 0,
         "declared_recorded_at": None},
    ]
