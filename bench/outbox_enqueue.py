"""Outbox enqueue rate through the Store vs raw sqlite3 with the same pragmas, in the same run.

Prints one line per figure: ``name: ours X rows/s, baseline Y rows/s, ratio Z``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from edge.store import Store
from edge.store.outbox import _INSERT, OutboxEntry, Priority, _row, enqueue, enqueue_many
from edge.timeutil import to_iso, utcnow

SINGLE = 2000
BATCHES, BATCH = 50, 1000


def entries(prefix: str, n: int) -> list[OutboxEntry]:
    return [OutboxEntry("telemetry", Priority.BULK, f"{prefix}-{i}",
                        payload={"device": "cam-0001", "lat": 24.4798, "lon": 118.0894, "battery": 87, "i": i})
            for i in range(n)]


def raw_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def baseline(path: Path) -> tuple[float, float]:
    # The schema comes from our migrations so that both sides write the same table and indexes.
    # Same work per row as ours (serialise the payload, stamp the time), none of our machinery.
    conn = raw_connection(path)
    single_entries = entries("base1", SINGLE)
    start = time.perf_counter()
    for entry in single_entries:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(_INSERT, _row(entry, to_iso(utcnow())))
        conn.execute("COMMIT")
    single = SINGLE / (time.perf_counter() - start)
    batches = [entries(f"base2-{b}", BATCH) for b in range(BATCHES)]
    start = time.perf_counter()
    for batch in batches:
        now = to_iso(utcnow())
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(_INSERT, (_row(e, now) for e in batch))
        conn.execute("COMMIT")
    batched = BATCHES * BATCH / (time.perf_counter() - start)
    conn.close()
    return single, batched


async def ours(path: Path) -> tuple[float, float, float]:
    store = Store(path)
    await store.open()
    single_entries = entries("ours1", SINGLE)
    start = time.perf_counter()
    for entry in single_entries:
        await store.write(lambda tx, e=entry: enqueue(tx, e))
    single = SINGLE / (time.perf_counter() - start)
    batches = [entries(f"ours2-{b}", BATCH) for b in range(BATCHES)]
    start = time.perf_counter()
    for batch in batches:
        await store.write(lambda tx, b=batch: enqueue_many(tx, b))
    batched = BATCHES * BATCH / (time.perf_counter() - start)
    concurrent_entries = entries("ours3", SINGLE * 5)
    start = time.perf_counter()
    await asyncio.gather(*(store.write(lambda tx, e=e: enqueue(tx, e)) for e in concurrent_entries))
    concurrent = len(concurrent_entries) / (time.perf_counter() - start)
    await store.close()
    return single, batched, concurrent


def main() -> int:
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        ours_path, base_path = Path(tmp) / "ours.db", Path(tmp) / "base.db"
        asyncio.run(_create_schema(base_path))
        base_single, base_batched = baseline(base_path)
        our_single, our_batched, our_concurrent = asyncio.run(ours(ours_path))
    report("outbox_enqueue_one_per_commit", our_single, base_single, "rows/s")
    report("outbox_enqueue_1000_per_commit", our_batched, base_batched, "rows/s")
    report("outbox_enqueue_concurrent_group_commit", our_concurrent, base_single, "rows/s")
    return 0


async def _create_schema(path: Path) -> None:
    store = Store(path)
    await store.open()
    await store.close()


def report(name: str, ours_value: float, base_value: float, unit: str) -> None:
    print(f"{name}: ours {ours_value:,.0f} {unit}, baseline {base_value:,.0f} {unit}, "
          f"ratio {ours_value / base_value:.2f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
