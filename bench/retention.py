"""Retention selection on a large station: 200k footage rows (a year of a busy station), 20k of them
expired and confirmed, some of those held by a case link, an open review, an announcement or a live row
on the same path.

ours: ``edge.store.retention.candidates`` (every keep reason checked in the query) plus the in-transaction
re-check ``keep_reasons`` for each selected row, in rows per second.
baseline, same database, same run: the bare indexed selection of expired good rows with a confirmed outbox
entry (what retention selected before the keep reasons), then one primary-key read per row.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.store import Queries, Store, Tx
from edge.store import retention as rules

ROWS = 200_000
EXPIRED = 20_000
NOW = "2027-01-01T00:00:00.000000Z"


def _fill(tx: Tx) -> None:
    tx.execute("INSERT INTO cases (number, kind, status, title, source, revision, content_sha256, record,"
               " created_at, updated_at) VALUES ('C-1', 'incident', 'open', 't', 'local', 1, 'x', '{}', 'a', 'a')")
    ingests, footage, outbox, links, reviews = [], [], [], [], []
    for i in range(1, ROWS + 1):
        sha = f"{i:064x}"
        expired = i <= EXPIRED
        ingests.append((f"i{i}", "upload", "cam-1", "device:cam-1", f"f{i}.mp4", 1, "a", "a"))
        footage.append((i, sha, 1, f"files/{sha[:2]}/{sha}.mp4", "good", "cam-1", f"f{i}.mp4", "upload", f"i{i}",
                        "2026-01-01T00:00:00.000000Z",
                        "2026-06-01T00:00:00.000000Z" if expired else "2027-06-01T00:00:00.000000Z"))
        outbox.append(("footage.file", 2, f"footage:{sha}", f"/f/{sha}", 1, sha,
                       "confirmed" if expired else "pending", '{"reference":"r"}' if expired else None))
        if expired and i % 10 == 0:
            links.append((str(i), "C-1", "linked" if i % 20 == 0 else "review"))
    tx.executemany("INSERT INTO ingests (id, source, device_id, actor, file_name, length, created_at, updated_at)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", ingests)
    tx.executemany("INSERT INTO footage (id, sha256, size, path, state, device_id, file_name, source, ingest_id,"
                   " ingested_at, retain_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", footage)
    tx.executemany("INSERT INTO outbox (kind, priority, dedupe_key, file_path, file_size, file_sha256, bytes, state,"
                   " receipt, created_at, updated_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?,"
                   " '2026-02-01T00:00:00.000000Z', '2026-02-01T00:00:00.000000Z', 'a')", outbox)
    for n, (footage_id, case, state) in enumerate(links, 1):
        tx.execute("INSERT INTO case_links (id, footage_id, case_number, state, decided_by, actor, provenance,"
                   " decided_at) VALUES (?, ?, ?, ?, 'machine', 'm', '{}', 'a')", (n, footage_id, case, state))
        if state == "review":
            reviews.append((n, footage_id, case))
    tx.executemany("INSERT INTO review_items (link_id, footage_id, case_number, opened_at) VALUES (?, ?, ?, 'a')",
                   reviews)


def _ours_all(q: Queries) -> int:
    rows = rules.candidates(q, NOW, limit=EXPIRED)
    for row in rows:
        assert rules.keep_reasons(q, row["id"], NOW) == []
    return len(rows)


def _baseline(q: Queries) -> int:
    rows = q.all(
        "SELECT f.* FROM footage f JOIN outbox o ON o.dedupe_key = 'footage:' || f.sha256"
        " WHERE f.state = 'good' AND f.hold = 0 AND f.marked = 0 AND f.retain_until IS NOT NULL"
        " AND f.retain_until < ? AND o.state = 'confirmed' AND o.receipt IS NOT NULL ORDER BY f.retain_until LIMIT ?",
        (NOW, EXPIRED))
    for row in rows:
        q.one("SELECT state, hold, marked FROM footage WHERE id = ?", (row["id"],))
    return len(rows)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        await store.open()
        try:
            await store.write(_fill)
            results = {}
            for name, fn in (("baseline", _baseline), ("ours", _ours_all), ("baseline", _baseline),
                             ("ours", _ours_all)):
                started = time.perf_counter()
                n = await store.read(fn)
                results.setdefault(name, []).append((n, time.perf_counter() - started))
            kept = EXPIRED // 10  # linked or in review: kept by ours, selected by the bare query
            n_ours, t_ours = min(results["ours"], key=lambda r: r[1])
            n_base, t_base = min(results["baseline"], key=lambda r: r[1])
            assert n_ours == EXPIRED - kept, n_ours
            assert n_base == EXPIRED, n_base
            ours, base = n_ours / t_ours, n_base / t_base
            print(f"retention selection + re-check ({ROWS} rows, {EXPIRED} expired): ours {ours:,.0f} rows/s, "
                  f"baseline {base:,.0f} rows/s, ratio {ours / base:.2f}")
        finally:
            await store.close()


if __name__ == "__main__":
    asyncio.run(main())
