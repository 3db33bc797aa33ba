"""Telemetry rows written in batches with telemetry durability (synchronous=NORMAL, no per-row await).

The MQTT handler only appends a row and returns, so the lane never waits for a commit; a flusher task
writes whatever accumulated every ``max_delay`` seconds or as soon as ``max_rows`` are waiting, with the
registry's dirty device snapshots and seq high-water marks at most every 5 s. What is buffered when the
daemon stops is flushed on the way out; a crash can lose at most one batch of telemetry (never events or
files, which are written durably before their message is acknowledged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from edge.metrics import Metrics
from edge.store import Store, StoreError, Tx
from edge.store import telemetry as rows
from edge.timeutil import utcnow

log = logging.getLogger(__name__)

StateRows = list[tuple[str, int | None, bool, dict[str, Any]]]
# (rows, link receipt of each row, commit) with times in epoch seconds: benchmarks collect exact latencies.
LatencyProbe = Callable[[list[tuple[Any, ...]], list[float], float], None]
_STATES_EVERY_S = 5.0
_MAX_BUFFERED = 100_000  # beyond this the oldest telemetry is shed (evidence is never in here)


class TelemetryBatcher:
    # Set on the class by benchmarks before the daemon starts, so that no early batch escapes it.
    latency_probe: LatencyProbe | None = None

    def __init__(self, store: Store, metrics: Metrics, *, max_rows: int, max_delay: float,
                 dirty_states: Callable[[], StateRows]) -> None:
        self._store = store
        self._max_rows = max_rows
        self._max_delay = max_delay
        self._dirty_states = dirty_states
        self._rows: list[tuple[Any, ...]] = []
        self._received: list[float] = []  # link receipt (epoch s), for the handling-latency histogram
        self._full = asyncio.Event()
        # Device snapshots are written at most every _STATES_EVERY_S, not with every batch of rows: under
        # load a batch fills in milliseconds, and serialising hundreds of snapshots each time would cost
        # more than the rows themselves. They are only read back at start-up, and the final flush on the
        # way out writes them all.
        self._states_due = 0.0
        self._written = metrics.counter("station_edge_bodycam_telemetry_rows_written",
                                        "Telemetry rows committed (duplicates skipped by the store included)")
        self._shed = metrics.counter("station_edge_bodycam_telemetry_rows_shed",
                                     "Telemetry rows dropped: buffer overflow or a failed batch write")
        self._latency = metrics.histogram(
            "station_edge_bodycam_telemetry_latency_seconds", "Receipt to commit of a telemetry row",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0))

    def add(self, row: tuple[Any, ...], received: float) -> None:
        """Buffer one row; ``received`` is the link's receipt time in epoch seconds."""
        rows = self._rows
        rows.append(row)
        self._received.append(received)
        n = len(rows)
        if n >= self._max_rows:
            if n > _MAX_BUFFERED:
                drop = n - _MAX_BUFFERED
                del rows[:drop], self._received[:drop]
                self._shed.inc(drop)
            self._full.set()

    @property
    def pending(self) -> int:
        return len(self._rows)

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self._max_delay)
            self._full.clear()
            await self.flush()

    async def flush(self, *, final: bool = False) -> None:
        batch, received = self._rows, self._received
        self._rows, self._received = [], []
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

        try:
            await self._store.write(write, durable=False)
        except StoreError as exc:
            log.error("telemetry batch of %d rows lost: %s", len(batch), exc)
            self._shed.inc(len(batch))
            return
        done = time.time()
        self._written.inc(len(batch))
        observe = self._latency.observe
        for r in received:
            observe(done - r)
        if self.latency_probe is not None:
            self.latency_probe(batch, received, done)
