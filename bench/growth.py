"""Bounded storage over simulated days: the database levels off under retention, and telemetry keeps
flowing while a prune runs.

Five simulated days of 1,000,000 telemetry rows each (300 cameras), written through ``Store.write`` and
``edge.store.telemetry.insert_telemetry`` (the batcher's path) in 1,000-row jobs, with a 2-day retention.
The clock is accelerated by handing each day's end to ``Pruner.run(now=...)``; nothing is mocked. After
each day: prune, vacuum, checkpoint, and print the database + WAL size. On the last day the second part of
the day's rows is written while that day's prune runs, and its rate is compared with the first part's
(same run, same writer, no prune): ``growth_telemetry_during_prune: ours X rows/s, baseline Y rows/s, ratio Z``.

Usage: .venv/bin/python bench/growth.py [--rows-per-day N] [--days D]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edge.housekeeping.config import RetentionConfig
from edge.housekeeping.pruner import Pruner, PruneReport
from edge.store import Store, Tx
from edge.store import footage as footage_rows
from edge.store.prune import Batch
from edge.store.telemetry import epoch_us, insert_telemetry
from edge.store.vacuum import file_sizes
from edge.timeutil import to_iso

CAMERAS = 300
CHUNK = 1000  # rows per Store.write job, like a telemetry batch of a busy station
LANES = 4  # writes in flight
START = datetime(2026, 3, 1, tzinfo=UTC)
RETENTION = RetentionConfig(telemetry_days=2, events_days=2)
LEVEL_OFF_LIMIT = 1.10


def day_rows(day: int, rows: int, first: int = 0, end: int | None = None) -> Iterator[list[tuple[Any, ...]]]:
    """Rows [first, end) of the day in time order, CHUNK at a time (lazily: a day does not fit in memory)."""
    step_us = 86_400_000_000 // rows
    base = epoch_us(START + timedelta(days=day))
    chunk: list[tuple[Any, ...]] = []
    for i in range(first, rows if end is None else end):
        cam = i % CAMERAS
        seq = day * rows + i
        ts = base + i * step_us
        chunk.append((f"cam-{cam:04d}", seq, f"m{seq}", ts, ts + 800, 24.47 + cam * 1e-4, 118.08, 4.0, ts, 80, 30_000,
                      1, -85, 120, "new"))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def write_rows(store: Store, chunks: Iterator[list[tuple[Any, ...]]],
                     stop: Callable[[], bool] = lambda: False) -> int:
    written = 0

    async def lane() -> None:
        nonlocal written
        for chunk in chunks:  # the lanes share the iterator: each takes the next chunk
            stored = await store.write(lambda tx, c=chunk: insert_telemetry(tx, c), durable=False)
            written += stored  # not "written += await ...": that reads the total before the await
            if stop():
                return

    await asyncio.gather(*(lane() for _ in range(LANES)))
    return written


async def add_held_footage(store: Store) -> None:
    """A few held clips on the first day: their cameras' telemetry around them must survive every prune."""
    def write(tx: Tx) -> None:
        for n in range(3):
            at = to_iso(START + timedelta(hours=8 + n))
            sha = hashlib.sha256(f"bench-clip-{n}".encode()).hexdigest()
            footage_rows.ingest_create(tx, {"id": sha[:32], "source": "upload", "device_id": f"cam-{n:04d}",
                                            "actor": "bench", "file_name": f"c{n}.mp4", "length": 1,
                                            "state": "complete", "created_at": at})
            footage_rows.insert(tx, {"sha256": sha, "size": 1, "path": f"files/{sha}.mp4", "state": "good",
                                     "device_id": f"cam-{n:04d}", "file_name": f"c{n}.mp4", "source": "upload",
                                     "ingest_id": sha[:32], "hold": 1, "hold_reason": "supervisor",
                                     "recorded_at": at, "ingested_at": at, "probe_state": "done",
                                     "media": '{"duration_s": 600}'})

    await store.write(write)


def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


async def main(rows_per_day: int, days: int) -> int:
    with tempfile.TemporaryDirectory(prefix="station-edge-growth-") as tmp:
        path = Path(tmp) / "station.db"
        store = Store(path)
        await store.open()
        batches: list[Batch] = []
        pruner = Pruner(store, RETENTION, on_batch=batches.append)
        sizes: list[int] = []
        ratio_line = ""
        try:
            await add_held_footage(store)
            for day in range(days):
                day_end = START + timedelta(days=day + 1)
                started = time.perf_counter()
                if day < days - 1:
                    await write_rows(store, day_rows(day, rows_per_day))
                    write_s = time.perf_counter() - started
                    report = await pruner.run(day_end)
                else:
                    report, write_s, ratio_line = await last_day(store, pruner, day, rows_per_day, day_end)
                total = file_sizes(path)
                sizes.append(total.total)
                rows = await store.read(lambda q: q.scalar("SELECT count(*) FROM telemetry"))
                print(f"growth_day{day + 1}: telemetry rows {rows}, database {mb(total.database)} + WAL "
                      f"{mb(total.wal)} = {mb(total.total)}; wrote {rows_per_day} rows in {write_s:.1f} s, "
                      f"pruned {report.rules['telemetry'].deleted} in {report.seconds:.1f} s "
                      f"({report.vacuumed_pages} pages given back; slowest vacuum step "
                      f"{report.slowest_vacuum_ms:.1f} ms, checkpoint "
                      f"{report.checkpoint.ms if report.checkpoint else 0:.1f} ms)", flush=True)
        finally:
            await store.close()
        telemetry = [b for b in batches if b.rule == "telemetry" and b.deleted]
        if telemetry:
            for label, values in (("wall", [b.ms for b in telemetry]), ("cpu", [b.cpu_ms for b in telemetry])):
                q = statistics.quantiles(values, n=100, method="inclusive")
                print(f"growth_prune_batch_ms_{label}: p50 {q[49]:.2f}, p99 {q[98]:.2f}, max {max(values):.2f} "
                      f"(writer held per batch, {len(values)} batches; largest "
                      f"{max(b.scanned for b in batches)} rows)")
        print(ratio_line)
        steady = sizes[RETENTION.telemetry_days - 1:]  # from the day the retention window is full
        spread = max(steady) / min(steady)
        verdict = "levels off" if spread <= LEVEL_OFF_LIMIT else "DOES NOT level off"
        print(f"growth_level_off: days {RETENTION.telemetry_days}-{days} sizes "
              f"{', '.join(mb(s) for s in steady)}; max/min {spread:.3f} (limit {LEVEL_OFF_LIMIT}): {verdict}")
        return 0 if spread <= LEVEL_OFF_LIMIT else 1


async def last_day(store: Store, pruner: Pruner, day: int, rows: int, day_end: datetime
                   ) -> tuple[PruneReport, float, str]:
    """The day's first and last quarters without a prune (baseline, before and after, so that a change in
    the machine's load shows in both), the middle half while the day's prune runs (ours)."""
    started = time.perf_counter()
    quarter = rows // 4

    async def timed(chunks: Iterator[list[tuple[Any, ...]]], stop: Callable[[], bool] = lambda: False
                    ) -> tuple[int, float]:
        t0 = time.perf_counter()
        n = await write_rows(store, chunks, stop)
        return n, time.perf_counter() - t0

    before = await timed(day_rows(day, rows, 0, quarter))
    prune = asyncio.create_task(pruner.run(day_end))
    middle = day_rows(day, rows, quarter, rows - quarter)
    during = await timed(middle, prune.done)
    await write_rows(store, middle)  # what the prune did not outlast
    await prune
    after = await timed(day_rows(day, rows, rows - quarter))
    write_s = time.perf_counter() - started
    report = await pruner.run(day_end)  # nothing more to delete: vacuum and checkpoint what came since
    first = prune.result()
    report.rules["telemetry"].deleted += first.rules["telemetry"].deleted
    report.seconds += first.seconds
    report.vacuumed_pages += first.vacuumed_pages
    report.slowest_vacuum_ms = max(report.slowest_vacuum_ms, first.slowest_vacuum_ms)
    ours = during[0] / during[1]
    baseline = (before[0] + after[0]) / (before[1] + after[1])
    line = (f"growth_telemetry_during_prune: ours {ours:,.0f} rows/s, baseline {baseline:,.0f} rows/s, ratio "
            f"{ours / baseline:.2f} ({during[0]} rows written during a prune of {first.rules['telemetry'].deleted}"
            f" rows lasting {first.seconds:.1f} s; baseline: {before[0] + after[0]} rows before and after it)")
    return report, write_s, line


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows-per-day", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=5)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.rows_per_day, args.days)))
