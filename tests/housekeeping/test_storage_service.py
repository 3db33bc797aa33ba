"""The storage service in a running daemon: it prunes on its interval and /metrics (over real HTTP) shows
the database and WAL bytes, rows per table and what retention removed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import aiohttp
import pytest
from support.storage import add_track

from edge.config import Config
from edge.daemon import Daemon
from edge.timeutil import utcnow


@pytest.fixture
async def daemon(make_config: Callable[..., Config]) -> AsyncIterator[Daemon]:
    config = make_config(retention={"interval_s": 0.5, "row_count_interval_s": 0.2})
    daemon = Daemon(config)
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop))
    await asyncio.wait_for(daemon.ready.wait(), 30)
    yield daemon
    stop.set()
    assert await asyncio.wait_for(run, 30) == 0


def _sample(text: str, name: str) -> float | None:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return None if match is None else float(match[1])


async def test_metrics_show_store_size_rows_and_pruned_rows(daemon: Daemon) -> None:
    assert daemon.http is not None and daemon.storage is not None
    now = utcnow()
    await add_track(daemon.store, "cam-old", now - timedelta(days=400), 50)
    await add_track(daemon.store, "cam-new", now - timedelta(hours=2), 20)
    url = f"http://127.0.0.1:{daemon.http.bound_port}/metrics"
    text = ""
    async with aiohttp.ClientSession() as session:
        for _ in range(300):  # up to 30 s: the service prunes every 0.5 s and counts every 0.2 s
            async with session.get(url) as response:
                text = await response.text()
            if (_sample(text, 'station_edge_store_rows{table="telemetry"}') == 20.0
                    and _sample(text, 'station_edge_retention_deleted_rows_total{rule="telemetry"}') == 50.0):
                break
            await asyncio.sleep(0.1)
    assert _sample(text, 'station_edge_store_rows{table="telemetry"}') == 20.0, text
    assert _sample(text, 'station_edge_retention_deleted_rows_total{rule="telemetry"}') == 50.0
    assert (_sample(text, "station_edge_store_database_bytes") or 0) > 0
    assert _sample(text, "station_edge_store_wal_bytes") is not None
    assert _sample(text, 'station_edge_store_rows{table="custody_log"}') is not None
    assert (_sample(text, "station_edge_retention_last_run_timestamp") or 0) > 0
    assert 'station_edge_service_up{service="storage"} 1.0' in text
