"""Dock ingest on real folders: each try counted once up to the configured number, disk watermarks checked
before copying, ``marked`` from the camera's sidecar or announcement, symlinked device folders refused."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support.footage import Station, run_station

from devices.simulators.dock import fill_dock
from devices.simulators.uploader import file_sha256
from edge.bodycam.footage.dock import DockWatcher
from edge.store import expected_footage
from edge.store import footage as rows
from edge.timeutil import utcnow


def _dock(station: Station) -> DockWatcher:
    assert station.daemon.footage is not None and station.daemon.footage.dock is not None
    return station.daemon.footage.dock


async def _after_first_scan(station: Station) -> DockWatcher:
    """The dock's own scan at start is over (the next is an hour away): every later scan is the test's."""
    dock = _dock(station)
    async with asyncio.timeout(30):
        while dock.last_scan_at is None:
            await asyncio.sleep(0.01)
    return dock


async def _metric(station: Station, name: str, label: str) -> float:
    async with station.session.get(station.url + "/metrics") as r:
        text = await r.text()
    for line in text.splitlines():
        if line.startswith(f'{name}{{reason="{label}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def _by_sha(station: Station, path: Path) -> dict[str, Any] | None:
    sha = file_sha256(path)
    return await station.daemon.store.read(lambda q: rows.good_by_sha(q, sha))


def _sidecar(recording: Path, **fields: Any) -> Path:
    path = recording.with_name(recording.name + ".json")
    path.write_text(json.dumps({"name": recording.name, **fields}))
    return path


async def test_a_failing_copy_is_tried_the_configured_number_of_times(footage_config, tmp_path: Path) -> None:
    mount = tmp_path / "dock"
    config = footage_config(dock_dir=str(mount), dock_settle_s=0, dock_scan_interval_s=3600, dock_max_attempts=4)
    async with run_station(config) as station:
        dock, tmp = await _after_first_scan(station), station.footage_root / "tmp"
        # Every copy now fails: the directory for copies in progress is not a directory.
        tmp.rmdir()
        tmp.write_bytes(b"")
        [clip] = fill_dock(mount, "cam-0001", count=1)
        for _ in range(6):
            assert await dock.scan_once() == 0
        [seen] = (await station.daemon.store.read(lambda q: rows.dock_known(q, "cam-0001"))).values()
        assert (seen["state"], seen["attempts"]) == ("failed", 4)  # four tries, each counted once
        tries = await station.daemon.store.read(lambda q: q.scalar(
            "SELECT count(*) FROM ingests WHERE source = 'dock' AND file_name = ?", (clip.name,)))
        assert tries == 4
        _, alerts = await station.get("/api/v1/alerts")
        [alert] = [a for a in alerts["items"] if a["kind"] == "footage.dock_copy_failed"]
        assert "giving up after 4 tries" in alert["message"]
        tmp.unlink()
        tmp.mkdir()
        assert await dock.scan_once() == 0  # given up: left on the camera ...
        stat = clip.stat()
        os.utime(clip, ns=(stat.st_atime_ns, stat.st_mtime_ns - 1_000_000_000))
        assert await dock.scan_once() == 1  # ... until the file changes
        assert await _by_sha(station, clip) is not None


async def test_a_try_that_fails_once_succeeds_on_the_next_scan(footage_config, tmp_path: Path) -> None:
    mount = tmp_path / "dock"
    config = footage_config(dock_dir=str(mount), dock_settle_s=0, dock_scan_interval_s=3600, dock_max_attempts=2)
    async with run_station(config) as station:
        tmp = station.footage_root / "tmp"
        await _after_first_scan(station)
        tmp.rmdir()
        tmp.write_bytes(b"")
        [clip] = fill_dock(mount, "cam-0001", count=1)
        assert await _dock(station).scan_once() == 0
        tmp.unlink()
        tmp.mkdir()
        assert await _dock(station).scan_once() == 1  # the second of two tries
        [seen] = (await station.daemon.store.read(lambda q: rows.dock_known(q, "cam-0001"))).values()
        assert (seen["state"], seen["attempts"]) == ("done", 2)
        assert await _by_sha(station, clip) is not None


def _critical_now(tmp_path: Path) -> tuple[float, float]:
    """Watermarks that the test filesystem is already past (critical), whatever its size."""
    st = os.statvfs(tmp_path)
    used = 100.0 * (st.f_blocks - st.f_bavail) / st.f_blocks
    if used < 0.02:
        pytest.skip("the test filesystem is practically empty; no critical level can be set below it")
    return used / 4, used / 2


async def test_routine_dock_footage_waits_while_the_disk_is_critical(footage_config, tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    mount = tmp_path / "dock"
    high, critical = _critical_now(tmp_path)
    config = footage_config(dock_dir=str(mount), dock_settle_s=0, dock_scan_interval_s=3600,
                            high_watermark_pct=high, critical_watermark_pct=critical)
    async with run_station(config) as station:
        await _after_first_scan(station)
        routine, side_marked, announced = fill_dock(mount, "cam-0001", count=3)
        _sidecar(side_marked, marked=True, size_bytes=side_marked.stat().st_size)
        now = utcnow()
        await station.daemon.store.write(lambda tx: expected_footage.announce(
            tx, device_id="cam-0001", file_name=announced.name, officer_no=None, device_start=now, device_end=now,
            size_bytes=announced.stat().st_size, sha256=file_sha256(announced), marked=True, sos=False,
            announced_at=now, announced_device_ts=now, deadline_at=now + timedelta(days=1)))
        with caplog.at_level(logging.WARNING, logger="edge.bodycam.footage.dock"):
            assert await _dock(station).scan_once() == 2  # the camera's marked files are still taken
            assert await _dock(station).scan_once() == 0
        waiting = [r.getMessage() for r in caplog.records if routine.name in r.getMessage()]
        assert len(waiting) == 1 and "left on the camera for now" in waiting[0] and "critical" in waiting[0]
        assert await _metric(station, "station_edge_footage_dock_refused_total", "insufficient-storage") == 1
        assert await _by_sha(station, routine) is None
        for path in (side_marked, announced):
            row = await _by_sha(station, path)
            assert row is not None and row["marked"] and row["hold"], path.name
        known = await station.daemon.store.read(lambda q: rows.dock_known(q, "cam-0001"))
        assert {key[0].rsplit("/", 1)[1] for key in known} == {side_marked.name, announced.name}  # no sidecar
    async with run_station(footage_config(dock_dir=str(mount), dock_settle_s=0, dock_scan_interval_s=3600)) as st:
        await _after_first_scan(st)  # room again: the routine file comes in (at the start-up scan), not marked
        row = await _by_sha(st, routine)
        assert row is not None and not row["marked"] and not row["hold"]


async def test_a_sidecar_that_does_not_describe_the_file_marks_nothing(footage_config, tmp_path: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    mount = tmp_path / "dock"
    config = footage_config(dock_dir=str(mount), dock_settle_s=0, dock_scan_interval_s=3600)
    async with run_station(config) as station:
        await _after_first_scan(station)
        good, other_bytes, other_name, broken, not_bool = fill_dock(mount, "cam-0001", count=5)
        _sidecar(good, marked=True, sha256=file_sha256(good))
        _sidecar(other_bytes, marked=True, sha256="0" * 64)
        _sidecar(other_name, marked=True, name="SOMETHING_ELSE.mp4")
        broken.with_name(broken.name + ".json").write_text("{not json")
        _sidecar(not_bool, marked="yes")
        with caplog.at_level(logging.WARNING, logger="edge.bodycam.footage.dock"):
            assert await _dock(station).scan_once() == 5  # every recording is ingested, never a sidecar
        for path, marked in ((good, True), (other_bytes, False), (other_name, False), (broken, False),
                             (not_bool, False)):
            row = await _by_sha(station, path)
            assert row is not None and bool(row["marked"]) is marked, path.name
        messages = " | ".join(r.getMessage() for r in caplog.records)
        assert "it names 'SOMETHING_ELSE.mp4'" in messages and "not JSON" in messages
        assert "'marked' must be true or false" in messages
        count = await station.daemon.store.read(lambda q: q.scalar("SELECT count(*) FROM footage"))
        assert count == 5
        # The dock simulator's marked recordings carry such a sidecar.
        imp, plain = fill_dock(mount, "cam-0002", count=2, seed=9, marked_every=2)
        assert await _dock(station).scan_once() == 2
        assert [bool((await _by_sha(station, p) or {})["marked"]) for p in (imp, plain)] == [True, False]


async def test_a_symlinked_device_folder_is_refused(footage_config, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    mount, elsewhere = tmp_path / "dock", tmp_path / "elsewhere"
    config = footage_config(dock_dir=str(mount), dock_settle_s=0, dock_scan_interval_s=3600)
    async with run_station(config) as station:
        await _after_first_scan(station)
        [real] = fill_dock(mount, "cam-0001", count=1)
        [linked] = fill_dock(elsewhere, "cam-0002", count=1, seed=5)
        (mount / "cam-0002").symlink_to(elsewhere / "cam-0002", target_is_directory=True)
        with caplog.at_level(logging.ERROR, logger="edge.bodycam.footage.dock"):
            assert await _dock(station).scan_once() == 1  # the real folder only
            assert await _dock(station).scan_once() == 0
        [line] = [r.getMessage() for r in caplog.records if "cam-0002" in r.getMessage()]
        assert "symbolic link" in line and str(elsewhere / "cam-0002") in line
        assert await _metric(station, "station_edge_footage_dock_refused_total", "symlink") == 1
        assert await _by_sha(station, real) is not None and await _by_sha(station, linked) is None
        # Replaced by the camera's real folder: taken normally.
        (mount / "cam-0002").unlink()
        shutil.copytree(elsewhere / "cam-0002", mount / "cam-0002")
        assert await _dock(station).scan_once() == 1
        assert await _by_sha(station, linked) is not None
