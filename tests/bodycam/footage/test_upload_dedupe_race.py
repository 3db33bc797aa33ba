"""An upload that declares content already stored completes at creation, without bytes. Retention deleting that
very content at the same time must not leave the upload "complete" on a deleted row (the camera would then
erase its only copy): creation decides under the content lock, so it waits for the deletion and then asks for
the bytes, which are stored anew."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

from support.footage import run_station
from support.retention import confirm_received, past_routine_retention

from devices.simulators.uploader import file_sha256
from edge.store import footage as rows


async def test_a_declared_duplicate_racing_its_deletion_is_received_again(footage_config, tmp_path: Path) -> None:
    data = tmp_path / "dedupe.mp4"
    data.write_bytes(os.urandom(20_000))
    sha = file_sha256(data)
    async with run_station(footage_config()) as station:
        assert station.daemon.footage is not None
        retention = station.daemon.footage.retention
        store = station.daemon.store
        first = await station.camera().upload(data)
        assert first.state == "complete" and await confirm_received(store, sha)

        # Hold the store's writer so that retention stops inside its decision (content lock taken, its
        # deleting transaction queued) while the camera declares the same content again.
        entered, release = threading.Event(), threading.Event()

        def blocker(tx: Any) -> None:
            entered.set()
            assert release.wait(60)

        blocked = asyncio.create_task(store.write(blocker))
        assert await asyncio.to_thread(entered.wait, 60)
        deleting = asyncio.create_task(retention.run_once(now=past_routine_retention()))
        async with asyncio.timeout(60):
            while retention.locks.users(sha) < 1:
                await asyncio.sleep(0.01)
        uploading = asyncio.create_task(station.camera("cam-0002").upload(data))
        async with asyncio.timeout(60):  # the creation waits for the same content's lock
            while retention.locks.users(sha) < 2:
                await asyncio.sleep(0.01)
        release.set()
        await blocked
        assert await deleting == [first.footage_id]
        again = await uploading
        # Not "duplicate" of the deleted row: the bytes were sent and stored anew, on a new good row.
        assert again.state == "complete" and again.footage_id != first.footage_id
        row = await store.read(lambda q: rows.get(q, again.footage_id))
        assert row is not None and row["state"] == "good"
        assert (station.footage_root / row["path"]).read_bytes() == data.read_bytes()
        old = await store.read(lambda q: rows.get(q, first.footage_id))
        assert old is not None and old["state"] == "deleted"
