"""One disk budget: footage, partial uploads, thumbnails, the database and the WAL count together; the
warning comes before critical, routine footage is refused at critical and evidence is still taken."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.tmpfs import mounted_tmpfs

from edge.alerts import AlertBus
from edge.bodycam.footage.budget import UsageMeter
from edge.bodycam.footage.config import FootageConfig
from edge.bodycam.footage.disk import DiskGuard, DiskLevel
from edge.bodycam.footage.layout import Layout
from edge.metrics import Metrics
from edge.store import Store
from edge.web.problems import ProblemError

MiB = 2**20


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(tmp_path / "data" / "station.db")
    await s.open()
    yield s
    await s.close()


@pytest.fixture
def tiny_fs(tmp_path: Path):
    with mounted_tmpfs(tmp_path / "tiny", "16m") as mount:
        yield mount


async def _active(store: Store) -> dict[str, str]:
    return await store.read(lambda q: {r["kind"]: r["message"] for r in q.all(
        "SELECT kind, message FROM alerts WHERE cleared_at IS NULL")})


async def test_budget_counts_thumbnails_partials_database_and_wal(store: Store, tiny_fs: Path) -> None:
    layout = Layout(tiny_fs / "footage")  # a nearly empty filesystem: the budget is what binds
    layout.ensure()
    database = store.path.stat().st_size + store.path.with_name("station.db-wal").stat().st_size
    # A budget with room for the database and 4 MiB more; thumbnails take 3 MiB of it.
    budget = database + 4 * MiB
    config = FootageConfig(disk_budget_gb=budget / 2**30, high_watermark_pct=60, critical_watermark_pct=95,
                           hard_floor_mb=0)
    metrics = Metrics()
    guard = DiskGuard(layout.root, config, AlertBus("S1", store), usage=UsageMeter(store, layout, metrics))
    (layout.thumbs / "a.jpg").write_bytes(b"\xff" * 3 * MiB)
    state = await guard.check()
    assert state.where == "disk budget" and state.level == DiskLevel.HIGH
    assert state.usage is not None and state.usage.thumbnails == 3 * MiB and state.usage.database > 0
    alerts = await _active(store)
    assert "disk.high" in alerts and "disk.critical" not in alerts  # the warning first
    assert "disk budget" in alerts["disk.high"] and "thumbnails 3.0 MB" in alerts["disk.high"]
    assert 'station_edge_storage_bytes{part="thumbnails"} 3.145728e+06' in metrics.render().decode()
    guard.admit(100, evidence=False)  # still room below critical

    # A partial upload fills the budget: critical; routine footage refused, evidence still taken.
    (layout.uploads / "x.part").write_bytes(b"\0" * MiB)
    guard._usage._scanned_at = float("-inf")  # type: ignore[union-attr]  # rescan now, not in a minute
    state = await guard.check()
    assert state.level == DiskLevel.CRITICAL and state.usage is not None and state.usage.partial == MiB
    with pytest.raises(ProblemError) as refused:
        guard.admit(100, evidence=False)
    assert refused.value.status == 507 and "disk budget" in refused.value.detail
    guard.admit(100, evidence=True)
    assert {"disk.high", "disk.critical"} <= set(await _active(store))

    (layout.uploads / "x.part").unlink()
    (layout.thumbs / "a.jpg").unlink()
    guard._usage._scanned_at = float("-inf")  # type: ignore[union-attr]
    assert (await guard.check()).level == DiskLevel.OK
    assert not {"disk.high", "disk.critical"} & set(await _active(store))


async def test_a_database_on_another_filesystem_counts_against_the_footage_disk(tiny_fs: Path,
                                                                                store: Store) -> None:
    layout = Layout(tiny_fs / "footage")
    layout.ensure()
    config = FootageConfig(high_watermark_pct=80, critical_watermark_pct=99, hard_floor_mb=0)
    guard = DiskGuard(layout.root, config, AlertBus("S1", store), usage=UsageMeter(store, layout))
    before = await guard.check()
    assert before.where == "footage filesystem + database" and before.usage is not None
    assert before.usage.database_elsewhere
    # Grow the database (on the big disk) by ~13 MiB of dead letters: the 16 MiB footage disk's budget fills.
    blob = b"\0" * 60_000
    await store.write(lambda tx: tx.executemany(
        "INSERT INTO dead_letter (at, source, channel, reason, detail, payload, payload_size)"
        " VALUES ('2026-01-01T00:00:00.000000Z', 'mqtt', 't', 'r', 'd', ?, 1)", [(blob,)] * 220))
    after = await guard.check()
    assert after.level >= DiskLevel.HIGH, after
    assert "disk.high" in await _active(store)
