"""Telemetry rows written in batches, acknowledged once committed (telemetry durability, bounded fsync).

The MQTT handler appends a row and returns the future of the batch it joined, so the lane never waits
for a commit while the link acknowledges the message only once that future is done: a telemetry
message the broker saw acknowledged is in the database. A flusher writes the open batch as soon as
``max_rows`` are waiting or every ``max_delay`` seconds, whichever comes first (keep ``max_rows`` well
under the broker's Receive Maximum, or the broker stops sending before a batch fills); the registry's
dirty device snapshots and seq high-water marks go with a batch at most every 5 s.

Durability: a batch commits with synchronous=NORMAL unless the WAL was last fsynced more than
``sync_s`` ago, then with FULL. A process crash (SIGKILL, OOM) loses nothing that was acknowledged:
the commit is in the WAL, in the OS page cache. A power cut can lose the acknowledged batches committed
since the last fsync, at most about ``sync_s`` of telemetry (any FULL commit — an event, a status —
fsyncs the WAL, and with it every NORMAL commit before it). A batch that fails to commit (disk full,
I/O error) is kept and retried with backoff, taking along the rows that arrive meanwhile; nothing is
acknowledged until it commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from edge.backoff import jittered_backoff
from edge.metrics import Metrics
from edge.store import Store, StoreClosedError, StoreError, Tx
from edge.store import telemetry as rows
from edge.timeutil import utcnow

log = logging.getLogger(__name__)

StateRows = list[tuple[str, int | None, bool, dict[str, Any]]]
# (rows, link receipt of each row, commit) with times in epoch seconds: benchmarks collect exact latencies.
LatencyProbe = Callable[[list[tuple[Any, ...]], list[float], float], None]
_STATES_EVERY_S = 5.0
# Rows held uncommitted at most. Receive Maximum should keep this near 1,000 unacknowledged messages,
# but Mosquitto 2.0.11 was seen sending a resumed session's backlog far beyond it (11,000 unacknowledged
# in bench/telemetry). Beyond this a message is refused for now (BacklogFullError: retried, then
# redelivered by the broker), never dead-lettered.
MAX_BUFFERED = 100_000
_RETRY_MIN_S = 0.05
_RETRY_MAX_S = 2.0
# Batch writes queued to the store at once. The next batch is handed over while the last one commits, so
# a burst's acks keep flowing (the writer merges what waits into one group commit); beyond this the
# rows wait and the next flush takes them all.
_IN_FLIGHT = 4


class BacklogFullError(StoreError):
    """Too many telemetry rows wait for a commit: the message is retried later, not refused."""


class TelemetryBatcher:
    # Set on the class by benchmarks before the daemon starts, so that no early batch escapes it.
    latency_probe: LatencyProbe | None = None

    def __init__(self, store: Store, metrics: Metrics, *, max_rows: int, max_delay: float, sync_s: float,
                 dirty_states: Callable[[], StateRows], rng: random.Random | None = None) -> None:
        self._store = store
        self._max_rows = max_rows
        self._max_delay = max_delay
        self._sync_s = sync_s
        self._dirty_states = dirty_states
        self._rng = rng or random.Random()
        self._rows: list[tuple[Any, ...]] = []
        self._received: list[float] = []  # link receipt (epoch s), for the receipt-to-commit histogram
        self._committed: asyncio.Future[None] | None = None  # the open batch's commit
        self._full = asyncio.Event()
        self._flushing: set[asyncio.Task[None]] = set()
        # Device snapshots are written at most every _STATES_EVERY_S, not with every batch of rows: under
        # load a batch fills in milliseconds, and serialising hundreds of snapshots each time would cost
        # more than the rows themselves. They are only read back at start-up, and the final flush on the
        # way out writes them all.
        self._states_due = 0.0
        self._written = metrics.counter("station_edge_bodycam_telemetry_rows_written",
                                        "Telemetry rows committed (duplicates skipped by the store included)")
        self._shed = metrics.counter("station_edge_bodycam_telemetry_rows_shed",
                                     "Telemetry messages put off (retried) because too many rows wait for a commit")
        self._retries = metrics.counter("station_edge_bodycam_telemetry_batch_retries",
                                        "Telemetry batch commits retried after a store failure")
        self._latency = metrics.histogram(
            "station_edge_bodycam_telemetry_latency_seconds", "Receipt to commit of a telemetry row",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0))

    @property
    def full(self) -> bool:
        return len(self._rows) >= MAX_BUFFERED

    def add(self, row: tuple[Any, ...], received: float) -> asyncio.Future[None]:
        """Buffer one row (``received``: link receipt, epoch s); the future completes once it committed."""
        committed = self._committed
        if committed is None:
            committed = self._committed = asyncio.get_running_loop().create_future()
        rows_ = self._rows
        rows_.append(row)
        self._received.append(received)
        if len(rows_) >= self._max_rows:
            self._full.set()
        return committed

    def refuse(self) -> None:
        self._shed.inc()

    @property
    def pending(self) -> int:
        return len(self._rows)

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self._max_delay)
            self._full.clear()
            if len(self._flushing) >= _IN_FLIGHT:
                continue  # one finishing sets _full again if enough rows wait
            task = asyncio.create_task(self.flush(), name="bodycam.telemetry.batch")
            self._flushing.add(task)
            task.add_done_callback(self._flushed)

    def _flushed(self, task: asyncio.Task[None]) -> None:
        self._flushing.discard(task)
        if len(self._rows) >= self._max_rows:
            self._full.set()

    def _take(self) -> tuple[list[tuple[Any, ...]], list[float], asyncio.Future[None] | None]:
        taken = self._rows, self._received, self._committed
        self._rows, self._received, self._committed = [], [], None
        return taken

    async def flush(self, *, final: bool = False) -> None:
        if final and self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)  # they commit before the last one
        batch, received, committed = self._take()
        waiters = [] if committed is None else [committed]
        states: StateRows = []
        now = time.monotonic()
        if final or now >= self._states_due:
            states = self._dirty_states()
            self._states_due = now + max(self._max_delay, _STATES_EVERY_S)
        if not batch and not states:
            return
        at = utcnow()

        def write(tx: Tx) -> None:
            if batch:
                rows.insert_telemetry(tx, batch)
            if states:
                rows.save_states(tx, states, at)

        attempt = 0
        try:
            while True:
                durable = final or time.monotonic() - self._store.synced_at >= self._sync_s
                try:
                    await self._store.write(write, durable=durable)
                    break
                except StoreError as exc:
                    if final or isinstance(exc, StoreClosedError):
                        log.error("telemetry batch of %d rows not committed on the way out (%s); the broker "
                                  "redelivers it after the restart", len(batch), exc)
                        _cancel(waiters)
                        return
                    attempt += 1
                    self._retries.inc()
                    if attempt == 1:
                        log.error("telemetry batch of %d rows not committed (%s); retrying, nothing of it is "
                                  "acknowledged meanwhile", len(batch), exc)
                    await asyncio.sleep(jittered_backoff(attempt + 1, min_s=_RETRY_MIN_S, max_s=_RETRY_MAX_S,
                                                         rng=self._rng))
                    more, more_received, more_committed = self._take()  # one transaction for all of it
                    batch.extend(more)
                    received.extend(more_received)
                    if more_committed is not None:
                        waiters.append(more_committed)
        except asyncio.CancelledError:
            _cancel(waiters)  # not acknowledged: redelivered (and skipped by the unique key if it landed)
            raise
        if attempt:
            log.warning("telemetry batch committed after %d retries (%d rows)", attempt, len(batch))
        done = time.time()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._written.inc(len(batch))
        observe = self._latency.observe
        for r in received:
            observe(done - r)
        probe = TelemetryBatcher.latency_probe
        if probe is not None:
            probe(batch, received, done)


def _cancel(waiters: list[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        waiter.cancel()
