"""A camera's case_tag that arrives after its file was ingested still links the file (re-matching)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from support.bodycam import Station, envelope
from support.cases import iso, record
from support.tokens import auth

from devices.simulators.media import make_segment
from devices.simulators.uploader import TusUploader
from edge.config import Role


async def footage_links(station: Station, footage_id: int) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(
            f"{station.http}/api/v1/footage/{footage_id}/cases", headers=auth(Role.SUPERVISOR)) as response:
        assert response.status == 200, await response.text()
        return list((await response.json())["links"])


async def test_a_case_tag_after_ingest_links_the_file(station: Station, tmp_path: Path) -> None:
    secret = await station.enrol("cam-0001", "BW00001")
    now = datetime.now(UTC)
    # A case this camera's officer is not on, hours before the recording: only the tag can link them.
    case = record("INC-TAG-0001", ["100001"], now - timedelta(hours=3), now - timedelta(hours=2))
    async with aiohttp.ClientSession() as session, session.post(
            f"{station.http}/api/v1/cases", json=case, headers=auth(Role.SUPERVISOR)) as response:
        assert response.status == 201, await response.text()

    segment = await asyncio.to_thread(make_segment, tmp_path / "a.mp4", seconds=1.0)
    async with TusUploader(station.http, "cam-0001", secret) as uploader:
        result = await uploader.upload(segment, name="CAM0001_A.mp4", recorded_at=iso(now - timedelta(minutes=10)))
    assert result.state == "complete" and result.footage_id is not None
    await asyncio.sleep(0.3)
    assert await footage_links(station, result.footage_id) == [], "nothing links the file yet"

    cam = station.cam("cam-0001", secret)
    cam.start()
    cam.publish("bwc/cam-0001/event", {**envelope("cam-0001", 1), "event": "case_tag", "case_no": "INC-TAG-0001",
                                       "file_name": "CAM0001_A.mp4"})
    async with asyncio.timeout(30):
        while not (links := await footage_links(station, result.footage_id)):
            await asyncio.sleep(0.05)
    [link] = links
    assert link["case_number"] == "INC-TAG-0001" and link["state"] == "linked"
    assert link["provenance"]["rule"] == "case_tag"
