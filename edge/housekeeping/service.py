"""The ``storage`` service: prune on an interval, keep the row counts for /metrics fresh."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from edge.housekeeping.config import RetentionConfig
from edge.housekeeping.metrics import StoreMetrics
from edge.housekeeping.pruner import Pruner, PruneReport
from edge.metrics import Metrics
from edge.store import Store, StoreError
from edge.store.prune import table_rows, user_tables
from edge.supervisor import Service

log = logging.getLogger(__name__)
_FIRST_RUN_DELAY_S = 60.0  # let start-up (reconciliation, backlog) finish before the first prune


class StorageService(Service):
    name = "storage"

    def __init__(self, config: RetentionConfig, store: Store, metrics: Metrics) -> None:
        self.config = config
        self.store = store
        self.metrics = StoreMetrics(metrics, store.path)
        self.pruner = Pruner(store, config, on_batch=self.metrics.observe_batch)
        self.last_report: PruneReport | None = None

    async def serve(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._count_loop(), name="storage.rows")
            group.create_task(self._prune_loop(), name="storage.prune")

    async def prune_now(self) -> PruneReport:
        report = await self.pruner.run()
        self.last_report = report
        self.metrics.observe_run(report, time.time())
        log.info("retention: %s", report.summary())
        await self.count_rows()
        return report

    async def count_rows(self) -> None:
        counts = await self.store.read(lambda q: table_rows(q, user_tables(q)))
        self.metrics.set_rows(counts, time.time())

    async def _prune_loop(self) -> None:
        await asyncio.sleep(min(_FIRST_RUN_DELAY_S, self.config.interval_s))
        await self._every(self.config.interval_s, self.prune_now, "retention run")

    async def _count_loop(self) -> None:
        await self._every(self.config.row_count_interval_s, self.count_rows, "row count")

    async def _every(self, interval_s: float, job: Callable[[], Awaitable[object]], what: str) -> None:
        # A store outage (full disk, I/O errors) fails a run; it is retried at the next interval rather
        # than failing the service, whose restarts would spend the daemon's restart budget.
        failing = False
        while True:
            try:
                await job()
            except StoreError as exc:
                if not failing:
                    log.warning("%s failed, retrying every %.0f s: %s", what, interval_s, exc)
                failing = True
            else:
                if failing:
                    log.warning("%s works again", what)
                failing = False
            await asyncio.sleep(interval_s)

