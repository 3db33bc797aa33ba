"""A retention deletion cut by SIGKILL right before or right after the unlink, in the real daemon process;
then restart, reconciliation, and the same bytes ingested again (which must survive every later start)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.daemon_process import launch, start, write_config
from support.retention import confirm_received
from support.tokens import auth

from devices.simulators.uploader import TusUploader, file_sha256
from edge.broker import free_port
from edge.config import Role
from edge.credentials import hash_secret
from edge.store import Store, custody, devices
from edge.store import footage as rows

SECRET = "s3cret-s3cret"


def _get(port: int, path: str) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=auth(Role.SUPERVISOR))
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read())


async def _reconciliation(port: int) -> dict[str, Any]:
    """The report of this start (reconciliation runs right after the daemon is ready)."""
    async with asyncio.timeout(60):
        while True:
            report = await asyncio.to_thread(_get, port, "/api/v1/footage/reconciliation")
            if report.get("checked_at"):
                return report
            await asyncio.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0


async def _upload(port: int, path: Path) -> int:
    async with aiohttp.ClientSession() as session, TusUploader(f"http://127.0.0.1:{port}", "cam-0009", SECRET,
                                                                 session=session) as cam:
        result = await cam.upload(path)
    assert result.state == "complete" and result.footage_id is not None
    return result.footage_id


async def _with_store(db: Path, fn: Any) -> Any:
    store = Store(db)
    await store.open()
    try:
        return await fn(store)
    finally:
        await store.close()


@pytest.mark.parametrize("when", ["before", "after"])
async def test_sigkill_around_the_unlink_then_restart(tmp_path: Path, when: str) -> None:
    port = free_port()
    config = write_config(tmp_path, port)
    db, log = tmp_path / "data" / "station.db", tmp_path / "daemon.log"
    await _with_store(db, lambda s: s.write(lambda tx: devices.add(
        tx, device_id="cam-0009", serial="0000009", model="sim", secret_hash=hash_secret(SECRET, iterations=1000))))
    media = tmp_path / "clip.mp4"
    media.write_bytes(os.urandom(60_000))
    sha = file_sha256(media)

    proc = await asyncio.to_thread(start, config, port, log=log)
    try:
        first = await _upload(port, media)
    finally:
        _stop(proc)

    async def expire_and_confirm(store: Store) -> dict[str, Any]:
        # Time passes (the retention period is over); the central platform's receipt arrives.
        await store.write(lambda tx: tx.execute(
            "UPDATE footage SET retain_until = '2000-01-01T00:00:00.000000Z' WHERE id = ?", (first,)))
        assert await confirm_received(store, sha)
        row = await store.read(lambda q: rows.get(q, first))
        assert row is not None
        return row

    row = await _with_store(db, expire_and_confirm)
    stored = tmp_path / "data" / "footage" / row["path"]
    assert stored.exists()

    # The start-up retention run deletes it; the process kills itself at the unlink.
    crashing = launch(config, crash_around_unlink=when, log=log)
    assert await asyncio.to_thread(crashing.wait, 60) == -signal.SIGKILL

    async def after_crash(store: Store) -> tuple[dict[str, Any] | None, list[str]]:
        row = await store.read(lambda q: rows.get(q, first))
        actions = [e.action for e in await store.read(lambda q: custody.history(q, f"footage:{first}"))]
        return row, actions

    tombstone, actions = await _with_store(db, after_crash)
    assert tombstone is not None and tombstone["state"] == "deleted"  # the tombstone committed first
    assert actions.count("footage.deleted") == 1
    assert stored.exists() == (when == "before")

    proc = await asyncio.to_thread(start, config, port, log=log)
    try:
        report = await _reconciliation(port)
        finished = [r for r in report["repaired"] if r.get("footage_id") == first]
        assert [r["action"] for r in finished] == (
            ["finished a retention deletion recorded before a crash"] if when == "before" else [])
        assert report["rows_without_files"] == [] and not stored.exists()
        # The camera sends the same bytes again: a new good row on the same path.
        again = await _upload(port, media)
        assert again != first and stored.read_bytes() == media.read_bytes()
    finally:
        _stop(proc)

    proc = await asyncio.to_thread(start, config, port, log=log)  # and once more: reconciliation keeps it
    try:
        report = await _reconciliation(port)
        assert report["repaired"] == [] and report["rows_without_files"] == []
        assert stored.read_bytes() == media.read_bytes()
        body = await asyncio.to_thread(_get, port, f"/api/v1/footage/{again}")
        assert body["state"] == "good" and body["path"] == row["path"]
    finally:
        _stop(proc)
    verdict = await _with_store(db, lambda s: s.read(custody.verify))
    assert verdict.ok, verdict.describe()
