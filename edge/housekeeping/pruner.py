"""One prune run: every retention rule in small batches, then vacuum steps, then a WAL checkpoint.

Deletes are telemetry-grade writes (``durable=False``): a power cut may undo the last batches, and the
next run deletes those rows again. Time is passed in (``now``), so a benchmark or test can run days in
seconds without touching the clock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from edge.housekeeping.config import RetentionConfig
from edge.store import Store, StoreError, Tx
from edge.store import prune as sql
from edge.store.vacuum import Checkpoint, FileSizes, VacuumStep, checkpoint, file_sizes, vacuum_step
from edge.timeutil import to_iso, utcnow

log = logging.getLogger(__name__)
_SPAN_CHUNK = 500  # keep spans copied into the TEMP table per writer job
_CALM_CHECKS = 3  # writer queue seen empty this many times in a row before a checkpoint


@dataclass
class RuleReport:
    name: str
    cutoff: str
    deleted: int = 0
    batches: int = 0
    largest_batch: int = 0  # rows scanned by the largest batch (never above batch_rows)
    slowest_batch_ms: float = 0.0
    kept_spans: int = 0
    error: str = ""  # the rule stopped on a store error (the others still ran)


@dataclass
class PruneReport:
    rules: dict[str, RuleReport] = field(default_factory=dict)
    vacuum_steps: int = 0
    vacuumed_pages: int = 0
    slowest_vacuum_ms: float = 0.0
    checkpoint: Checkpoint | None = None
    before: FileSizes | None = None
    after: FileSizes | None = None
    seconds: float = 0.0

    @property
    def deleted(self) -> int:
        return sum(r.deleted for r in self.rules.values())

    def summary(self) -> str:
        parts = [f"{r.name} {r.deleted}" for r in self.rules.values() if r.deleted]
        sizes = (f"; database {self.before.total / 1e6:.1f} -> {self.after.total / 1e6:.1f} MB"
                 if self.before and self.after else "")
        failed = [f"{r.name} ({r.error})" for r in self.rules.values() if r.error]
        return (f"pruned {self.deleted} rows ({', '.join(parts) or 'nothing due'}) in {self.seconds:.1f} s, "
                f"{self.vacuumed_pages} pages given back{sizes}"
                + (f"; FAILED: {', '.join(failed)}" if failed else ""))

    @property
    def failed(self) -> bool:
        return any(r.error for r in self.rules.values())


class Pruner:
    def __init__(self, store: Store, config: RetentionConfig, *,
                 on_batch: Callable[[sql.Batch], None] | None = None,
                 on_rule: Callable[[RuleReport], None] | None = None) -> None:
        self._store = store
        self._config = config
        self._on_batch = on_batch  # after every batch (metrics, progress, tests counting batch sizes)
        self._on_rule = on_rule  # after every rule (CLI progress)

    async def run(self, now: datetime | None = None) -> PruneReport:
        started = time.monotonic()
        moment = now or utcnow()
        report = PruneReport(before=file_sizes(self._store.path))
        for rule in sql.RULES:
            try:
                result = await self.prune_rule(rule, moment)
            except StoreError as exc:
                # One rule's failure (a constraint, a full disk) must not keep the others from running.
                log.error("retention rule %s failed: %s", rule.name, exc)
                result = RuleReport(rule.name, "", error=str(exc))
            report.rules[rule.name] = result
            if self._on_rule is not None:
                self._on_rule(result)
        await self.vacuum(report)
        report.checkpoint = await self.checkpoint()
        report.after = file_sizes(self._store.path)
        report.seconds = time.monotonic() - started
        return report

    async def prune_rule(self, rule: sql.Rule, now: datetime) -> RuleReport:
        config = self._config
        report = RuleReport(rule.name, to_iso(now - timedelta(days=config.days_for(rule.name))))
        if rule.keeps_context:
            report.kept_spans = await self._load_keep_spans()
        lo = await self._store.read(lambda q: sql.first_rowid(q, rule))
        size = config.batch_rows
        while lo is not None:
            def job(tx: Tx, lo: int = lo, size: int = size) -> sql.Batch:
                return sql.delete_batch(tx, rule, lo, size, report.cutoff)

            batch = await self._store.write(job, durable=False)
            report.batches += 1
            report.deleted += batch.deleted
            report.largest_batch = max(report.largest_batch, batch.scanned)
            report.slowest_batch_ms = max(report.slowest_batch_ms, batch.ms)
            if self._on_batch is not None:
                self._on_batch(batch)
            # Keep each batch near the target: halve while slow, grow back while quick.
            if batch.ms > config.batch_target_ms:
                size = max(1, size // 2)
            elif batch.ms < config.batch_target_ms / 4:
                size = min(config.batch_rows, size * 2)
            lo = batch.next_lo
            await asyncio.sleep(config.batch_pause_s)
        return report

    async def _load_keep_spans(self) -> int:
        spans = await self._store.read(sql.keep_spans)
        margin_s = self._config.context_margin_min * 60
        await self._store.write(sql.reset_keep_spans, durable=False)
        for start in range(0, len(spans), _SPAN_CHUNK):
            def add(tx: Tx, chunk: list[tuple[str, str, str]] = spans[start:start + _SPAN_CHUNK]) -> None:
                sql.add_keep_spans(tx, chunk, margin_s)

            await self._store.write(add, durable=False)
        return len(spans)

    async def vacuum(self, report: PruneReport) -> None:
        """Give free pages back to the filesystem in small steps, other writes in between."""
        config = self._config
        pages = config.vacuum_pages
        while True:
            def job(tx: Tx, pages: int = pages) -> VacuumStep:
                return vacuum_step(tx, pages)

            step = await self._store.maintain(job)
            report.vacuum_steps += 1
            report.vacuumed_pages += step.freed_pages
            report.slowest_vacuum_ms = max(report.slowest_vacuum_ms, step.ms)
            if step.freed_pages == 0 or step.free_pages_left == 0:
                return
            # Same pacing as the delete batches: fewer pages while a step is slow.
            if step.ms > config.batch_target_ms:
                pages = max(1, pages // 2)
            elif step.ms < config.batch_target_ms / 4:
                pages = min(config.vacuum_pages, pages * 2)
            await asyncio.sleep(config.batch_pause_s)

    async def checkpoint(self, *, patience_s: float = 5.0) -> Checkpoint:
        """Truncate the WAL once the writer has had nothing queued for a few checks (or after patience_s)."""
        deadline = time.monotonic() + patience_s
        calm = 0
        while calm < _CALM_CHECKS and time.monotonic() < deadline:
            calm = calm + 1 if self._store.pending_writes == 0 else 0
            await asyncio.sleep(0.01)
        result = await self._store.maintain(checkpoint)
        if result.busy:
            log.info("WAL checkpoint left %d of %d pages to a later one (a reader was busy)",
                     result.wal_pages - result.copied_pages, result.wal_pages)
        return result
