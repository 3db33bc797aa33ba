"""Crashes: SIGKILL of the daemon process mid-upload, a commit cut between rename and row, a dock copy cut."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import signal
import stat
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from support.daemon_process import start, write_config
from support.footage import run_station

from devices.simulators.uploader import TUS, TusUploader
from edge.config import Role
from edge.credentials import hash_secret
from edge.store import Store, custody, devices
from edge.store import footage as rows


def _config(tmp_path: Path, port: int) -> Path:
    return write_config(tmp_path, port)


def _start(config: Path, port: int) -> subprocess.Popen[bytes]:
    return start(config, port)


async def test_sigkill_mid_upload_then_resume(tmp_path: Path) -> None:
    from edge.broker import free_port

    port = free_port()
    config = _config(tmp_path, port)
    store = Store(tmp_path / "data" / "station.db")
    await store.open()
    await store.write(lambda tx: devices.add(tx, device_id="cam-0009", serial="0000009", model="sim",
                                             secret_hash=hash_secret("s3cret-s3cret", iterations=1000)))
    await store.close()
    data = os.urandom(3 * 2**20 + 77)
    url = f"http://127.0.0.1:{port}"
    proc = await asyncio.to_thread(_start, config, port)
    try:
        async with aiohttp.ClientSession() as session, TusUploader(url, "cam-0009", "s3cret-s3cret",
                                                                     session=session) as cam:
            _, headers, _ = await cam.create(len(data), hashlib.sha256(data).hexdigest(), "k.mp4")
            loc = headers["Location"]
            patch_headers = {**TUS, **cam.auth_headers, "Content-Type": "application/offset+octet-stream"}
            first = {**patch_headers, "Upload-Offset": "0"}
            async with session.patch(url + loc, data=io.BytesIO(data[: 2**20]), headers=first) as r:
                assert r.status == 204
            sent = asyncio.Event()

            async def hang() -> AsyncIterator[bytes]:
                yield data[2**20: 2**20 + 1_500_000]
                sent.set()
                await asyncio.sleep(60)

            pending = asyncio.create_task(session.patch(url + loc, data=hang(), headers={
                **patch_headers, "Upload-Offset": str(2**20)}).__aenter__())
            await sent.wait()
            await asyncio.sleep(0.3)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            with contextlib.suppress(Exception):
                await pending
        proc = await asyncio.to_thread(_start, config, port)
        async with aiohttp.ClientSession() as session, TusUploader(url, "cam-0009", "s3cret-s3cret",
                                                                     session=session) as cam:
            offset = await cam.offset(loc)
            assert offset >= 2**20  # what was confirmed before the kill survived
            async with session.patch(url + loc, data=io.BytesIO(data[offset:]), headers={
                    **TUS, **cam.auth_headers, "Content-Type": "application/offset+octet-stream",
                    "Upload-Offset": str(offset)}) as r:
                assert r.status == 204 and r.headers["Footage-State"] == "complete"
                footage_id = int(r.headers["Footage-Id"])
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    stored = next((tmp_path / "data" / "footage" / "files").rglob("*.mp4"))
    assert stored.read_bytes() == data and stat.S_IMODE(stored.stat().st_mode) == 0o444
    store = Store(tmp_path / "data" / "station.db")
    await store.open()
    try:
        history = await store.read(lambda q: custody.history(q, f"footage:{footage_id}"))
        assert [h.action for h in history] == ["footage.ingested"]
    finally:
        await store.close()


async def test_commit_cut_after_seal_is_registered_at_restart(footage_config, tmp_path: Path) -> None:
    """A crash after the file was sealed but before the row: reconciliation re-hashes and registers it."""
    config = footage_config()
    data = os.urandom(50_000)
    sha = hashlib.sha256(data).hexdigest()
    async with run_station(config) as station:
        await station.daemon.store.write(lambda tx: rows.ingest_create(tx, {
            "id": "f" * 32, "source": "upload", "device_id": "cam-0001", "actor": "device:cam-0001",
            "file_name": "cut.mp4", "length": len(data), "declared_sha256": sha, "state": "finalizing",
            "received": len(data), "sha256": sha, "target_path": f"files/{sha[:2]}/{sha}.mp4"}))
        target = station.footage_root / "files" / sha[:2] / f"{sha}.mp4"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(0o444)
        stray = station.footage_root / "files" / "ab" / "unknown.mp4"
        stray.parent.mkdir(parents=True, exist_ok=True)
        stray.write_bytes(b"who put this here")
    async with run_station(config) as station:
        report = station.daemon.footage.api.reconciliation  # type: ignore[union-attr]
        assert [r["action"] for r in report["repaired"]] == ["registered a file sealed before a crash"]
        assert [o["path"] for o in report["files_without_rows"]] == ["files/ab/unknown.mp4"]
        assert stray.exists()  # reported, never deleted
        row = await station.daemon.store.read(lambda q: rows.good_by_sha(q, sha))
        assert row is not None and row["path"] == f"files/{sha[:2]}/{sha}.mp4"
        target.unlink()
    async with run_station(config) as station:
        report = station.daemon.footage.api.reconciliation  # type: ignore[union-attr]
        assert [m["footage_id"] for m in report["rows_without_files"]] == [row["id"]]
        status, body = await station.get("/api/v1/footage/reconciliation", Role.TECHNICIAN)
        assert status == 200 and body["rows_without_files"]
        _, alerts = await station.get("/api/v1/alerts", Role.TECHNICIAN)
        assert {"footage.missing_files", "footage.orphan_files"} <= {a["kind"] for a in alerts["items"]}


@pytest.mark.parametrize("days", [30])
def test_retention_below_six_months_needs_a_reason(footage_config, days: int) -> None:
    from edge.config import ConfigError

    with pytest.raises(ConfigError, match="retention_override_reason"):
        footage_config(routine_retention_days=days)
    assert footage_config(routine_retention_days=days, retention_override_reason="pilot: test data only")
