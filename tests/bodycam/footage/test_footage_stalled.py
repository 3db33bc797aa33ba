from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from support.footage import Station

from edge.config import Role
from edge.timeutil import utcnow


async def test_a_stalled_upload_warns_keeps_its_bytes_and_clears_when_resumed(station: Station,
                                                                             tmp_path: Path) -> None:
    data = tmp_path / "partial.mp4"
    data.write_bytes(os.urandom(3 * 2**20))
    camera = station.camera("cam-0001")
    status, headers, _ = await camera.create(data.stat().st_size, hashlib.sha256(data.read_bytes()).hexdigest(),
                                             "CAM0001_20261122_0900.mp4")
    assert status == 201
    location = headers["Location"]
    with pytest.raises(aiohttp.ClientError):
        await camera.patch(location, data, 0, stop_after=2**20)  # the link drops after about a MiB
    async with asyncio.timeout(30):  # the server makes what it got durable, then reports the offset
        while (received := await camera.offset(location)) == 0:
            await asyncio.sleep(0.05)
    assert 0 < received < data.stat().st_size

    assert station.daemon.footage is not None
    stalled = station.daemon.footage.stalled
    assert await stalled.check() == 0, "not stalled yet: it only just stopped"
    later = utcnow() + timedelta(hours=73)
    assert await stalled.check(now=later) == 1
    _, body = await station.get("/api/v1/alerts?kind=footage.upload_stalled", Role.TECHNICIAN)
    [alert] = body["items"]
    assert alert["severity"] == "warning" and alert["subject"] == "device:cam-0001"
    assert alert["details"]["received"] == received and "kept" in alert["message"]

    status, _, _ = await camera.patch(location, data, received)  # the camera comes back and resumes
    assert status == 204
    await station.idle()
    assert await stalled.check(now=later) == 0
    _, body = await station.get("/api/v1/alerts?kind=footage.upload_stalled", Role.TECHNICIAN)
    assert body["items"] == []
    _, history = await station.get("/api/v1/alerts?kind=footage.upload_stalled&state=all", Role.TECHNICIAN)
    assert [h["change"] for h in history["items"][0]["history"]] == ["raised", "cleared"]
