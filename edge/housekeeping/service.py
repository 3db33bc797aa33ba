"""The ``storage`` service: prune on an interval, keep the row counts for /metrics fresh."""

from __future__ import annotations

import asyncio
import logging
import time

from edge.housekeeping.config import RetentionConfig
from edge.housekeeping.metrics import StoreMetrics
from edge.housekeeping.pruner import Pruner, PruneReport
from edge.metrics import Metrics
from edge.store import Store
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
        self.counted = asyncio.Event()  # set after each row count (tests wait on it)

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
        self.counted.set()

    async def _prune_loop(self) -> None:
        await asyncio.sleep(min(_FIRST_RUN_DELAY_S, self.config.interval_s))
        while True:
            await self.prune_now()
            await asyncio.sleep(self.config.interval_s)

    async def _count_loop(self) -> None:
        while True:
            await self.count_rows()
            await asyncio.sleep(self.config.row_count_interval_s)

