"""The footage service: owns the footage directory, the upload manager, the prober and the periodic jobs.

Start: create the layout, log a retention override in the custody log, check the disk; serve: reconcile
the directory with the database, probe what was left unprobed, then run the disk guard, retention and
(in workstation mode) the dock watcher until stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Self

from aiohttp import web

from edge.alerts import AlertBus
from edge.bodycam.events import EventWriter
from edge.bodycam.footage import routes_footage, routes_uploads
from edge.bodycam.footage.announcements import LateAnnouncements
from edge.bodycam.footage.budget import UsageMeter
from edge.bodycam.footage.committer import CaseHooks, Ingestor
from edge.bodycam.footage.config import MIN_ROUTINE_RETENTION_DAYS, FootageConfig
from edge.bodycam.footage.context import FOOTAGE_KEY, FootageApi
from edge.bodycam.footage.disk import DiskGuard
from edge.bodycam.footage.dock import DockWatcher
from edge.bodycam.footage.layout import Layout
from edge.bodycam.footage.metrics import FootageMetrics
from edge.bodycam.footage.reconcile import Reconciler
from edge.bodycam.footage.retention import Retention
from edge.bodycam.footage.stalled import StalledUploads
from edge.bodycam.footage.uploads import UploadManager
from edge.bodycam.media import MediaProber
from edge.metrics import Metrics
from edge.store import Store, custody
from edge.supervisor import Service

log = logging.getLogger(__name__)


class FootageService(Service):
    name = "footage"

    def __init__(self, config: FootageConfig, layout: Layout, store: Store, alerts: AlertBus,
                 metrics: Metrics) -> None:
        self.config = config
        self.layout = layout
        self.store = store
        self.alerts = alerts
        self.metrics = FootageMetrics(metrics)
        self.disk = DiskGuard(self.layout.root, config, alerts, usage=UsageMeter(store, self.layout, metrics))
        self.retention = Retention(store, self.layout, config.routine_retention_days, self.metrics)
        self.stalled = StalledUploads(store, alerts, config.stale_upload_h)
        self._executor: ThreadPoolExecutor | None = None
        self._prober: MediaProber | None = None
        self.ingestor: Ingestor | None = None
        self.case_hooks: CaseHooks | None = None  # the case domain's, set by the daemon
        self.dock: DockWatcher | None = None
        self.started = asyncio.Event()
        self.api = FootageApi(config, store, self.layout, self.disk, self.retention.run_once)

    def listen_to(self, events: EventWriter) -> None:
        """Take the camera's file announcements that arrive after their upload (one way: bodycam -> footage)."""
        events.announcement_listener = LateAnnouncements(lambda: self.case_hooks)

    def add_routes(self, app: web.Application) -> None:
        app[FOOTAGE_KEY] = self.api
        routes_uploads.add_routes(app)
        routes_footage.add_routes(app)

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.layout.ensure)
        self._executor = ThreadPoolExecutor(self.config.io_workers, thread_name_prefix="footage-io")
        self._prober = MediaProber(self.config.probe_workers, kind=self.config.probe_pool)
        self.ingestor = Ingestor(self.store, self.layout, self.alerts, self.config, self.metrics, self._prober)
        self.ingestor.cases = self.case_hooks
        self.ingestor.locks = self.retention.locks  # ingest and retention never decide about one file at once
        self.api.upload_manager = UploadManager(self.store, self.layout, self.ingestor, self.disk, self.config,
                                         self._executor, self.metrics)
        if self.config.dock_dir is not None:
            self.dock = DockWatcher(self.config.dock_dir, self.store, self.layout, self.ingestor, self.config,
                                    self.alerts, self.metrics, self.disk)
        if self.config.routine_retention_days < MIN_ROUTINE_RETENTION_DAYS:
            reason = self.config.retention_override_reason.strip()
            log.warning("routine retention set to %d days (< %d) by override: %s",
                        self.config.routine_retention_days, MIN_ROUTINE_RETENTION_DAYS, reason)
            await self.store.write(lambda tx: custody.append(
                tx, actor="system:config", action="retention.override", subject="station:retention", reason=reason,
                details={"routine_retention_days": self.config.routine_retention_days,
                         "minimum_days": MIN_ROUTINE_RETENTION_DAYS}))
        await self._check_disk()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self.ingestor is not None:
            self.ingestor.cancel_probes()
        if self._prober is not None:
            self._prober.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self.api.upload_manager = None
        self.started.clear()

    async def serve(self) -> None:
        assert self.ingestor is not None
        reconciler = Reconciler(self.store, self.layout, self.ingestor, self.retention, self.alerts, self.metrics)
        self.api.reconciliation = await reconciler.run()
        await self.ingestor.probe_backlog()
        self.started.set()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._every(self.config.disk_check_interval_s, self._check_disk), name="footage.disk")
            group.create_task(self._every(self.config.retention_interval_s, self.retention.run_once),
                              name="footage.retention")
            group.create_task(self._every(min(3600.0, self.config.stale_upload_h * 900), self.stalled.check),
                              name="footage.stalled")
            if self.dock is not None:
                group.create_task(self.dock.run(), name="footage.dock")

    async def _check_disk(self) -> None:
        state = await self.disk.check()
        self.metrics.disk_used.set(state.used_pct / 100)
        self.metrics.disk_level.set(int(state.level))

    async def _every(self, interval: float, job: Callable[[], Awaitable[object]]) -> None:
        while True:
            await job()
            await asyncio.sleep(interval)
