"""The telemetry batcher against a real store: a batch commits when it is full or when its time window
ends, whichever comes first, and each row's future completes only once its batch has committed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from edge.bodycam.batcher import TelemetryBatcher
from edge.metrics import Metrics
from edge.store import Store
from edge.store import telemetry as rows


def row(seq: int) -> tuple[Any, ...]:
    us = rows.epoch_us(datetime(2024, 6, 1, tzinfo=UTC)) + seq
    return ("cam-0001", seq, f"m{seq}", us, us, None, None, None, None, 80, 30_000, 1, -90, None, "new")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store(tmp_path / "station.db")
    await store.open()
    yield store
    await store.close()


@contextlib.asynccontextmanager
async def running(batcher: TelemetryBatcher) -> AsyncIterator[TelemetryBatcher]:
    task = asyncio.create_task(batcher.run())
    try:
        yield batcher
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await batcher.flush(final=True)


async def stored(store: Store) -> int:
    return int(await store.read(lambda q: q.scalar("SELECT count(*) FROM telemetry")))


async def test_a_full_batch_commits_long_before_its_time_window_ends(store: Store) -> None:
    batcher = TelemetryBatcher(store, Metrics(), max_rows=3, max_delay=3600, sync_s=1.0, dirty_states=list)
    async with running(batcher):
        futures = [batcher.add(row(seq), 0.0) for seq in range(3)]
        assert not any(f.done() for f in futures)
        await asyncio.wait_for(asyncio.gather(*futures), 30)  # the window is an hour: the size decided
        assert await stored(store) == 3


async def test_a_batch_that_does_not_fill_commits_when_its_window_ends_and_not_before(store: Store) -> None:
    batcher = TelemetryBatcher(store, Metrics(), max_rows=1000, max_delay=3.0, sync_s=0.0, dirty_states=list)
    async with running(batcher):
        future = batcher.add(row(1), 0.0)
        await asyncio.sleep(0.2)  # well inside the window
        assert not future.done() and await stored(store) == 0, "nothing committed, nothing to acknowledge yet"
        await asyncio.wait_for(future, 60)
        assert await stored(store) == 1
