"""The camera's holds reach the footage row whichever side arrives later: a ``mark_important`` or SOS over the
real broker after the footage was ingested (announced or not), and a mark sent before an unannounced upload.
The row is held (API), the custody log says why, the outbox entry becomes evidence, and no person may release
the hold; a repeated mark adds nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from support.attribution import announcement, footage_row, outbox_priority
from support.bodycam import Station, envelope
from support.tokens import auth

from devices.simulators.media import make_segment
from devices.simulators.uploader import TusUploader
from edge.config import Role
from edge.store import expected_footage
from edge.store import retention as rules
from edge.store.outbox import Priority
from edge.timeutil import to_iso, utcnow

PROBLEM = "urn:station-edge:problem:"


async def _upload(station: Station, secret: str, clip: Path, name: str) -> int:
    async with TusUploader(station.http, "cam-0001", secret) as uploader:
        result = await uploader.upload(clip, name=name)
    assert result.state == "complete" and result.footage_id is not None
    return result.footage_id


async def _held(station: Station, footage_id: int) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while not (row := await footage_row(station, footage_id))["hold"]:
            await asyncio.sleep(0.05)
    return row


def _holds(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in row["custody"] if c["action"] == "footage.hold"]


async def _release(station: Station, footage_id: int) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.post(
            f"{station.http}/api/v1/footage/{footage_id}/hold", json={"hold": False, "reason": "not needed"},
            headers=auth(Role.SUPERVISOR)) as response:
        return response.status, dict(await response.json(content_type=None))


async def _announced(station: Station, name: str) -> None:
    async with asyncio.timeout(30):
        while not await station.daemon.store.read(lambda q: expected_footage.get(q, "cam-0001", name)):
            await asyncio.sleep(0.05)


async def test_a_mark_after_the_announced_footage_holds_the_row(station: Station, tmp_path: Path) -> None:
    secret = await station.enrol("cam-0001", "BW00001")
    cam = station.cam("cam-0001", secret)
    cam.start()
    clip = await asyncio.to_thread(make_segment, tmp_path / "m.mp4", seconds=1.0)
    now = datetime.now(UTC).replace(microsecond=0)
    name = "BW00001_M.mp4"
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/file",
                            announcement(clip, 1, name, now - timedelta(minutes=10), now - timedelta(minutes=5),
                                         marked=False))
    await _announced(station, name)
    footage_id = await _upload(station, secret, clip, name)
    before = await footage_row(station, footage_id)
    assert not before["hold"] and before["retain_until"] is not None and not _holds(before)
    assert await outbox_priority(station, before["sha256"]) == Priority.ROUTINE

    mark = {**envelope("cam-0001", 2), "event": "mark_important", "file_name": name}
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/event", mark)
    row = await _held(station, footage_id)
    assert row["marked"] and row["retain_until"] is None and row["hold_reason"] == "camera: marked"
    [entry] = _holds(row)
    assert entry["actor"] == "system:bodycam" and entry["details"]["added"] == ["marked"]
    assert "mark_important" in entry["reason"]
    assert await outbox_priority(station, row["sha256"]) == Priority.EVIDENCE
    later = to_iso(utcnow() + timedelta(days=400))
    assert "held" in await station.daemon.store.read(lambda q: rules.keep_reasons(q, footage_id, later))
    status, body = await _release(station, footage_id)
    assert status == 409 and body["type"] == PROBLEM + "marked-footage"

    # The same mark again (a new message): the row already carries it, nothing more is written.
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/event", {**mark, "seq": 3, "msg_id": "again"})
    async with asyncio.timeout(30):
        while len(await station.daemon.store.read(lambda q: q.all(
                "SELECT 1 FROM device_events WHERE device_id = 'cam-0001' AND kind = 'mark_important'"))) < 2:
            await asyncio.sleep(0.05)
    assert len(_holds(await footage_row(station, footage_id))) == 1


async def test_an_sos_during_footage_already_ingested_holds_it_for_good(station: Station, tmp_path: Path) -> None:
    secret = await station.enrol("cam-0001", "BW00001")
    cam = station.cam("cam-0001", secret)
    cam.start()
    clip = await asyncio.to_thread(make_segment, tmp_path / "s.mp4", seconds=1.0)
    now = datetime.now(UTC).replace(microsecond=0)
    name = "BW00001_S.mp4"
    # The recording is still covering "now" on the camera's clock when the SOS is pressed.
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/file",
                            announcement(clip, 1, name, now - timedelta(minutes=10), now + timedelta(minutes=5),
                                         marked=False))
    await _announced(station, name)
    footage_id = await _upload(station, secret, clip, name)
    assert not (await footage_row(station, footage_id))["hold"]

    await asyncio.to_thread(cam.publish, "bwc/cam-0001/event", {**envelope("cam-0001", 2), "event": "sos",
                                                                 "gps": None})
    row = await _held(station, footage_id)
    assert row["hold_reason"] == "camera: sos" and row["retain_until"] is None and not row["marked"]
    assert _holds(row)[0]["details"]["added"] == ["sos"]
    assert await outbox_priority(station, row["sha256"]) == Priority.EVIDENCE
    status, body = await _release(station, footage_id)
    assert status == 409 and body["type"] == PROBLEM + "sos-footage"


async def test_a_mark_before_or_after_an_unannounced_upload_holds_it(station: Station, tmp_path: Path) -> None:
    secret = await station.enrol("cam-0001", "BW00001")
    cam = station.cam("cam-0001", secret)
    cam.start()
    first = await asyncio.to_thread(make_segment, tmp_path / "u1.mp4", seconds=1.0)
    second = await asyncio.to_thread(make_segment, tmp_path / "u2.mp4", seconds=1.0, seed=5)

    # After: the footage is here, unannounced and routine, when the camera marks it.
    after_id = await _upload(station, secret, first, "BW00001_U1.mp4")
    assert not (await footage_row(station, after_id))["hold"]
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/event",
                            {**envelope("cam-0001", 1), "event": "mark_important", "file_name": "BW00001_U1.mp4"})
    row = await _held(station, after_id)
    assert row["unannounced"] and row["marked"] and row["hold_reason"] == "camera: marked"

    # Before: the mark is stored first; the upload that follows is held as it is registered.
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/event",
                            {**envelope("cam-0001", 2), "event": "mark_important", "file_name": "BW00001_U2.mp4"})
    async with asyncio.timeout(30):
        while len(await station.daemon.store.read(lambda q: q.all(
                "SELECT 1 FROM device_events WHERE device_id = 'cam-0001' AND kind = 'mark_important'"))) < 2:
            await asyncio.sleep(0.05)
    before_id = await _upload(station, secret, second, "BW00001_U2.mp4")
    row = await footage_row(station, before_id)
    assert row["hold"] and row["marked"] and row["retain_until"] is None and row["declared_marked"] is False
    assert [c["action"] for c in row["custody"]][:2] == ["footage.ingested", "footage.hold"]
    assert await outbox_priority(station, row["sha256"]) == Priority.EVIDENCE
