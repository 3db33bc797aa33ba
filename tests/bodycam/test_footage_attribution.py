"""Footage is attributed to the camera that sent it: the camera's `file` announcement over the real broker
decides the recording's times, its mark and any hold; an upload's own claims grant nothing; an announcement
that arrives after the upload fulfils it in one transaction (custody, hold, outbox priority, case matching)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.attribution import announcement, footage_row, outbox_priority
from support.bodycam import Station
from support.cases import iso, record
from support.tokens import auth

from devices.simulators.media import make_segment
from devices.simulators.uploader import TusUploader, file_sha256
from edge.config import Role
from edge.store import expected_footage, footage_views
from edge.store.outbox import Priority

PROBLEM = "urn:station-edge:problem:"


async def test_an_announced_upload_takes_times_and_mark_from_the_announcement(station: Station, tmp_path: Path
                                                                                ) -> None:
    secret = await station.enrol("cam-0001", "BW00001")
    cam = station.cam("cam-0001", secret)
    cam.start()
    clip = await asyncio.to_thread(make_segment, tmp_path / "a.mp4", seconds=1.0)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    end = start + timedelta(minutes=5)
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/file",
                            announcement(clip, 1, "BW00001_A.mp4", start, end, marked=True))
    async with asyncio.timeout(30):
        while not await station.daemon.store.read(lambda q: expected_footage.get(q, "cam-0001", "BW00001_A.mp4")):
            await asyncio.sleep(0.05)

    async with TusUploader(station.http, "cam-0001", secret) as uploader:
        # The upload claims nothing about the mark and a wrong time: the announcement decides both.
        result = await uploader.upload(clip, name="BW00001_A.mp4", recorded_at="2020-01-01T00:00:00Z")
    assert result.state == "complete" and result.footage_id is not None
    row = await footage_row(station, result.footage_id)
    assert row["unannounced"] is False and row["uploaded_by"] == "device:cam-0001"
    assert row["recorded_at"] == iso(start).replace("Z", ".000000Z") and row["recorded_end"] is not None
    assert row["declared_recorded_at"] == "2020-01-01T00:00:00.000000Z" and row["declared_marked"] is False
    assert row["marked"] and row["hold"] and row["retain_until"] is None
    assert [c["action"] for c in row["custody"]][:2] == ["footage.ingested", "footage.hold"]
    assert row["custody"][0]["details"]["announced"] is True
    assert await outbox_priority(station, row["sha256"]) == Priority.EVIDENCE
    done = await station.daemon.store.read(lambda q: expected_footage.get(q, "cam-0001", "BW00001_A.mp4"))
    assert done is not None and done["fulfilled_at"] is not None and done["footage_id"] == str(result.footage_id)
    # The device's page lists its announcements with the footage they met: a metadata read, logged.
    async with aiohttp.ClientSession() as session, session.get(
            f"{station.http}/api/v1/devices/cam-0001", headers=auth(Role.TECHNICIAN)) as response:
        assert response.status == 200
        assert str(result.footage_id) in {e["footage_id"] for e in (await response.json())["expected_footage"]}
    views = await station.daemon.store.read(lambda q: footage_views.views_of(q, result.footage_id))
    assert [(v.actor, v.details["route"]) for v in views][-1] == ("technician:test-technician",
                                                                   "/api/v1/devices/cam-0001")


async def test_a_late_announcement_fulfils_unannounced_footage_and_relinks_it(station: Station, tmp_path: Path
                                                                               ) -> None:
    secret = await station.enrol("cam-0001", "BW00001")
    now = datetime.now(UTC).replace(microsecond=0)
    await station.enrolment.add_officer("100001", "Officer One", "440300000000", "Futian")
    await station.enrolment.assign("cam-0001", "100001", now - timedelta(hours=2), now + timedelta(hours=2),
                                   actor="technician:test")
    case = record("INC-LATE-0001", ["100001"], now - timedelta(minutes=60), now - timedelta(minutes=30))
    async with aiohttp.ClientSession() as session, session.post(
            f"{station.http}/api/v1/cases", json=case, headers=auth(Role.SUPERVISOR)) as response:
        assert response.status == 201, await response.text()

    clip = await asyncio.to_thread(make_segment, tmp_path / "b.mp4", seconds=1.0)
    async with TusUploader(station.http, "cam-0001", secret) as uploader:
        # Claimed: marked, and a time before the officer's shift (nobody's footage, no case).
        result = await uploader.upload(clip, name="BW00001_B.mp4", marked=True,
                                       recorded_at=iso(now - timedelta(hours=5)))
    assert result.state == "complete" and result.footage_id is not None
    before = await footage_row(station, result.footage_id)
    assert before["unannounced"] is True and not before["hold"] and before["officer_no"] is None
    assert await outbox_priority(station, before["sha256"]) == Priority.ROUTINE

    cam = station.cam("cam-0001", secret)
    cam.start()
    start, end = now - timedelta(minutes=50), now - timedelta(minutes=40)
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/file",
                            announcement(clip, 1, "BW00001_B.mp4", start, end, marked=True))
    async with asyncio.timeout(30):
        while (row := await footage_row(station, result.footage_id))["unannounced"]:
            await asyncio.sleep(0.05)
    assert row["marked"] and row["hold"] and row["retain_until"] is None and row["officer_no"] == "100001"
    assert row["recorded_at"] == iso(start).replace("Z", ".000000Z")
    # Reads of the row by this test are footage.view entries of their own: leave them out.
    entries = [c for c in row["custody"] if c["action"] != "footage.view"]
    assert [c["action"] for c in entries][:3] == ["footage.ingested", "footage.announced", "footage.hold"]
    announced = entries[1]
    assert announced["actor"] == "system:bodycam" and announced["details"]["before"]["officer_no"] is None
    assert announced["details"]["after"]["officer_no"] == "100001"
    # The three writes and the announcement are one transaction: consecutive entries in the chain.
    assert [c["seq"] for c in entries[1:3]] == [announced["seq"], announced["seq"] + 1]
    assert await outbox_priority(station, row["sha256"]) == Priority.EVIDENCE
    done = await station.daemon.store.read(lambda q: expected_footage.get(q, "cam-0001", "BW00001_B.mp4"))
    assert done is not None and done["footage_id"] == str(result.footage_id)

    async def links() -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as session, session.get(
                f"{station.http}/api/v1/footage/{result.footage_id}/cases", headers=auth(Role.SUPERVISOR)) as r:
            assert r.status == 200, await r.text()
            return list((await r.json())["links"])

    async with asyncio.timeout(30):  # the case domain re-matched the file through its ingest seam
        while not (found := await links()):
            await asyncio.sleep(0.05)
    assert [link["case_number"] for link in found] == ["INC-LATE-0001"]


async def test_an_announcement_that_differs_fulfils_nothing(station: Station, tmp_path: Path) -> None:
    secret = await station.enrol("cam-0001", "BW00001")
    clip = await asyncio.to_thread(make_segment, tmp_path / "c.mp4", seconds=1.0)
    other = await asyncio.to_thread(make_segment, tmp_path / "other.mp4", seconds=1.0, seed=9)
    async with TusUploader(station.http, "cam-0001", secret) as uploader:
        result = await uploader.upload(clip, name="BW00001_C.mp4")
    assert result.footage_id is not None
    cam = station.cam("cam-0001", secret)
    cam.start()
    now = datetime.now(UTC)
    # Same name, other content (size and hash of another file): not this footage.
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/file",
                            announcement(other, 1, "BW00001_C.mp4", now, now, marked=True))
    async with asyncio.timeout(30):
        while not await station.daemon.store.read(lambda q: expected_footage.get(q, "cam-0001", "BW00001_C.mp4")):
            await asyncio.sleep(0.05)
    row = await footage_row(station, result.footage_id)
    assert row["unannounced"] is True and not row["hold"] and not row["marked"]
    assert [c["action"] for c in row["custody"]] == ["footage.ingested"]


async def test_a_device_naming_another_device_is_refused(station: Station, tmp_path: Path) -> None:
    secret = await station.enrol("cam-0001", "BW00001")
    await station.enrol("cam-0002", "BW00002")
    clip = await asyncio.to_thread(make_segment, tmp_path / "d.mp4", seconds=1.0)
    async with TusUploader(station.http, "cam-0001", secret) as uploader:
        for target in ("cam-0002", "cam-9999"):  # enrolled or not
            status, _, problem = await uploader.create(clip.stat().st_size, file_sha256(clip), "d.mp4",
                                                       device=target)
            assert status == 403 and problem is not None and problem["type"] == PROBLEM + "device-mismatch"
        status, _, _ = await uploader.create(clip.stat().st_size, file_sha256(clip), "d.mp4", device="cam-0001")
        assert status == 201  # naming itself is fine
    assert await station.daemon.store.read(lambda q: q.all("SELECT id FROM footage")) == []
    # A technician (a dock PC) may name the camera; the footage records who uploaded it.
    async with TusUploader(station.http, "cam-0002", "", headers=auth(Role.TECHNICIAN)) as tech:
        result = await tech.upload(clip, name="d.mp4", device="cam-0002")
    assert result.state == "complete" and result.footage_id is not None
    row = await footage_row(station, result.footage_id)
    assert row["device_id"] == "cam-0002" and row["uploaded_by"] == "technician:test-technician"


@pytest.fixture
def full_footage_disk(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs where the station keeps its footage ({data_dir}/footage), 7 of 8 MiB used."""
    mount = tmp_path / "data" / "footage"
    mount.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.fail(f"this test needs to mount a small tmpfs (root): {done.stderr.decode().strip()}")
    (mount / "filler").write_bytes(b"\0" * (7 * 2**20))
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.parametrize("station", [{"footage": {"high_watermark_pct": 50, "critical_watermark_pct": 80,
                                                  "hard_floor_mb": 0, "disk_check_interval_s": 0.2}}],
                         indirect=True)
async def test_at_critical_only_an_announced_mark_is_taken(full_footage_disk: Path, station: Station,
                                                           tmp_path: Path) -> None:
    secret = await station.enrol("cam-0001", "BW00001")
    clip = await asyncio.to_thread(make_segment, tmp_path / "e.mp4", seconds=1.0)
    async with TusUploader(station.http, "cam-0001", secret) as uploader:
        status, _, problem = await uploader.create(clip.stat().st_size, file_sha256(clip), "BW00001_E.mp4",
                                                   marked=True)
        assert status == 507 and problem is not None and problem["type"] == PROBLEM + "insufficient-storage"
        cam = station.cam("cam-0001", secret)
        cam.start()
        now = datetime.now(UTC)
        await asyncio.to_thread(cam.publish, "bwc/cam-0001/file",
                                announcement(clip, 1, "BW00001_E.mp4", now, now, marked=True))
        async with asyncio.timeout(30):
            while not await station.daemon.store.read(lambda q: expected_footage.get(q, "cam-0001",
                                                                                     "BW00001_E.mp4")):
                await asyncio.sleep(0.05)
        result = await uploader.upload(clip, name="BW00001_E.mp4")  # no claim needed: the camera said so
    assert result.state == "complete" and result.footage_id is not None
    row = await footage_row(station, result.footage_id)
    assert row["hold"] and row["marked"] and not row["unannounced"]
