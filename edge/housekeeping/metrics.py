"""Store and retention metrics (names station_edge_store_* and station_edge_retention_*).

Database and WAL bytes are two stat calls, read on every scrape. Rows per table are exact counts, but a
count scans a whole index (seconds on a table of tens of millions of rows), so the storage service counts
on a reader every ``retention.row_count_interval_s`` and after each prune, and a scrape reads the last
counts; ``station_edge_store_rows_counted_timestamp`` says when they were taken.
"""

from __future__ import annotations

from pathlib import Path

from edge.housekeeping.pruner import PruneReport
from edge.metrics import Metrics
from edge.store.prune import Batch
from edge.store.vacuum import file_sizes


class StoreMetrics:
    def __init__(self, metrics: Metrics, database: Path) -> None:
        metrics.gauge("station_edge_store_database_bytes", "Size of the database file").set_function(
            lambda: file_sizes(database).database)
        metrics.gauge("station_edge_store_wal_bytes", "Size of the database's write-ahead log").set_function(
            lambda: file_sizes(database).wal)
        self.rows = metrics.gauge("station_edge_store_rows", "Rows per table (exact, counted periodically)",
                                  ["table"])
        self.counted_at = metrics.gauge("station_edge_store_rows_counted_timestamp",
                                        "Unix time of the last row count")
        self.deleted = metrics.counter("station_edge_retention_deleted_rows", "Rows removed by retention", ["rule"])
        self.batch_seconds = metrics.histogram(
            "station_edge_retention_batch_seconds", "Time one prune batch held the writer",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1))
        self.last_run = metrics.gauge("station_edge_retention_last_run_timestamp", "Unix time of the last prune")
        self.vacuumed_pages = metrics.counter("station_edge_retention_vacuumed_pages",
                                              "Free pages given back to the filesystem")

    def observe_batch(self, batch: Batch) -> None:
        self.batch_seconds.observe(batch.ms / 1000)
        if batch.deleted:
            self.deleted.labels(batch.rule).inc(batch.deleted)

    def observe_run(self, report: PruneReport, at: float) -> None:
        self.last_run.set(at)
        self.vacuumed_pages.inc(report.vacuumed_pages)

    def set_rows(self, counts: dict[str, int], at: float) -> None:
        for table, n in counts.items():
            self.rows.labels(table).set(n)
        self.counted_at.set(at)
