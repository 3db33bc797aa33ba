"""Helpers for tests of footage attribution through the real broker and uploads: a camera's `file`
announcement, the footage row as the API shows it, and its outbox priority."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from devices.simulators.uploader import file_sha256
from edge.config import Role
from support.bodycam import Station, envelope
from support.cases import iso
from support.tokens import auth


def announcement(path: Path, seq: int, name: str, start: datetime, end: datetime, *, marked: bool,
                 device: str = "cam-0001") -> dict[str, Any]:
    return {**envelope(device, seq), "name": name, "start": iso(start), "end": iso(end),
            "size_bytes": path.stat().st_size, "sha256": file_sha256(path), "marked": marked}


async def footage_row(station: Station, footage_id: int) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(
            f"{station.http}/api/v1/footage/{footage_id}", headers=auth(Role.SUPERVISOR)) as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


async def outbox_priority(station: Station, sha256: str) -> int:
    row = await station.daemon.store.read(lambda q: q.one(
        "SELECT priority FROM outbox WHERE dedupe_key = ?", (f"footage:{sha256}",)))
    assert row is not None
    return int(row["priority"])
