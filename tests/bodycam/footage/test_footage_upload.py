"""Resumable uploads end to end: a real daemon, real HTTP, real media files, real disk."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from support.footage import Station
from support.tokens import auth

from devices.simulators.media import make_segment
from devices.simulators.uploader import Fault, file_sha256, metadata
from edge.config import Role
from edge.store import custody
from edge.store.outbox import Priority


@pytest.fixture(scope="module")
def segments(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    base = tmp_path_factory.mktemp("media")
    return [make_segment(base / f"seg{i}.mp4", seed=i) for i in range(3)]


async def test_upload_is_stored_read_only_with_custody_outbox_and_probe(station: Station, segments: list[Path]
                                                                          ) -> None:
    result = await station.camera().upload(segments[0], recorded_at="2026-01-05T08:00:00Z")
    assert result.status == 204 and result.state == "complete", result
    await station.idle()
    status, row = await station.get(f"/api/v1/footage/{result.footage_id}")
    assert status == 200
    assert row["sha256"] == file_sha256(segments[0]) and row["size"] == segments[0].stat().st_size
    assert row["state"] == "good" and row["device_id"] == "cam-0001" and not row["damaged"]
    assert row["media"]["video_codec"] == "h264" and row["media"]["audio_codec"] == "aac"
    assert row["media"]["width"] == 320 and row["media"]["height"] == 240
    assert abs(row["media"]["duration_s"] - 2.0) < 0.2 and row["media"]["frame_rate"] == 25
    assert row["thumbnail_url"] and row["recorded_at"] == "2026-01-05T08:00:00.000000Z"
    assert row["retain_until"] is not None and not row["hold"]
    stored = station.footage_root / row["path"]
    assert stat.S_IMODE(stored.stat().st_mode) == 0o444
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == row["sha256"]
    assert [c["action"] for c in row["custody"]] == ["footage.ingested"]
    assert row["custody"][0]["actor"] == "device:cam-0001"
    out = await station.daemon.store.read(lambda q: q.one("SELECT * FROM outbox WHERE kind = 'footage.file'"))
    assert out is not None and out["priority"] == Priority.ROUTINE and out["file_sha256"] == row["sha256"]
    assert out["file_path"] == str(stored)
    assert not list((station.footage_root / "uploads").iterdir())


async def test_unannounced_upload_claiming_marked_is_stored_as_declared_and_never_held(
        station: Station, segments: list[Path]) -> None:
    result = await station.camera().upload(segments[1], marked=True, recorded_at="2026-01-05T09:00:00+08:00")
    assert result.state == "complete"
    _, row = await station.get(f"/api/v1/footage/{result.footage_id}")
    assert row["unannounced"] is True and row["uploaded_by"] == "device:cam-0001"
    assert row["declared_marked"] is True and row["declared_recorded_at"] == "2026-01-05T01:00:00.000000Z"
    assert row["recorded_at"] == "2026-01-05T01:00:00.000000Z" and row["recorded_end"] is None  # as declared
    assert not row["marked"] and not row["hold"] and row["retain_until"] is not None
    [entry] = [c for c in row["custody"] if c["action"] == "footage.ingested"]
    assert "unannounced" in entry["reason"] and entry["details"]["declared"]["marked"] is True
    assert "footage.hold" not in [c["action"] for c in row["custody"]]
    out = await station.daemon.store.read(lambda q: q.one("SELECT priority FROM outbox WHERE kind = 'footage.file'"))
    assert out is not None and out["priority"] == Priority.ROUTINE


async def test_disconnect_mid_upload_then_resume(station: Station, tmp_path: Path) -> None:
    big = tmp_path / "big.mp4"
    big.write_bytes(os.urandom(5 * 2**20 + 123))
    result = await station.camera().upload(big, fault=Fault.DISCONNECT)
    assert result.state == "complete", result
    assert 0 in result.requests  # one request was cut, the next resumed
    _, row = await station.get(f"/api/v1/footage/{result.footage_id}")
    assert row["sha256"] == file_sha256(big)


async def test_duplicate_content_is_stored_once(station: Station, segments: list[Path]) -> None:
    first = await station.camera("cam-0001").upload(segments[2])
    again = await station.camera("cam-0002").upload(segments[2], name="copy.mp4")
    assert first.state == "complete" and again.state == "duplicate" and again.footage_id == first.footage_id
    assert again.requests == [201]  # deduplicated at creation: no bytes sent again
    rows = await station.daemon.store.read(lambda q: q.all("SELECT id FROM footage"))
    assert len(rows) == 1
    history = await station.daemon.store.read(lambda q: custody.history(q, f"footage:{first.footage_id}"))
    assert [h.action for h in history] == ["footage.ingested", "footage.duplicate_declared"]
    declared = history[1]
    assert declared.details["bytes_received"] == 0 and "no bytes were sent or received" in declared.reason
    assert declared.actor == "device:cam-0002"
    ingest = await station.daemon.store.read(lambda q: q.one(
        "SELECT received, sha256, state FROM ingests WHERE state = 'duplicate'"))
    assert ingest == {"received": 0, "sha256": None, "state": "duplicate"}  # never claims bytes it did not get
    size = segments[2].stat().st_size
    assert await station.camera("cam-0002").offset(again.location) == size  # complete in tus terms


async def test_wrong_hash_is_quarantined_kept_and_alerted(station: Station, segments: list[Path]) -> None:
    result = await station.camera().upload(segments[0], fault=Fault.WRONG_HASH)
    assert result.status == 422 and result.problem is not None
    assert result.problem["type"] == "urn:station-edge:problem:hash-mismatch"
    _, row = await station.get(f"/api/v1/footage/{result.footage_id}")
    assert row["state"] == "quarantined" and row["path"].startswith("quarantine/")
    assert (station.footage_root / row["path"]).read_bytes() == segments[0].read_bytes()
    assert [c["action"] for c in row["custody"]] == ["footage.quarantined"]
    _, alerts = await station.get("/api/v1/alerts?kind=footage.quarantined", Role.TECHNICIAN)
    assert len(alerts["items"]) == 1
    outbox = await station.daemon.store.read(lambda q: q.all("SELECT * FROM outbox WHERE kind = 'footage.file'"))
    assert outbox == []  # never counts as good
    good = await station.daemon.store.read(lambda q: q.all("SELECT * FROM footage WHERE state = 'good'"))
    assert good == []


async def test_download_needs_reason_supports_range_and_is_logged(station: Station, segments: list[Path]) -> None:
    result = await station.camera().upload(segments[0])
    path = f"/api/v1/footage/{result.footage_id}/content"
    status, problem = await station.get(path)
    assert status == 400 and problem["type"] == "urn:station-edge:problem:reason-required"
    async with station.session.get(station.url + path + "?reason=case+review+A-17",
                                   headers={**auth(Role.SUPERVISOR), "Range": "bytes=100-199"}) as r:
        assert r.status == 206 and r.headers["Content-Range"].startswith("bytes 100-199/")
        assert await r.read() == segments[0].read_bytes()[100:200]
    status, body = await station.get(path + "?reason=export+for+court&export=1")
    assert status == 200 and body == segments[0].read_bytes()
    await station.idle()
    status, thumb = await station.get(f"/api/v1/footage/{result.footage_id}/thumbnail")
    assert status == 200 and thumb[:2] == b"\xff\xd8"
    _, row = await station.get(f"/api/v1/footage/{result.footage_id}")
    actions = [(c["action"], c["actor"], c["reason"]) for c in row["custody"]]
    assert ("footage.viewed", "supervisor:test-supervisor", "case review A-17") in actions
    assert ("footage.exported", "supervisor:test-supervisor", "export for court") in actions
    status, _ = await station.get(path + "?reason=x", Role.TECHNICIAN)
    assert status == 403


async def test_devices_may_not_read_footage_or_others_uploads(station: Station, segments: list[Path]) -> None:
    cam1, cam2 = station.camera("cam-0001"), station.camera("cam-0002")
    status, headers, _ = await cam1.create(1000, "0" * 64, "a.mp4")
    assert status == 201
    other = {**cam2.auth_headers, "Tus-Resumable": "1.0.0"}
    async with station.session.head(station.url + headers["Location"], headers=other) as r:
        assert r.status == 404
    async with station.session.get(station.url + "/api/v1/footage", headers=cam1.auth_headers) as r:
        assert r.status == 401  # device credentials count only on routes that admit devices


async def test_tus_discovery_and_version(station: Station) -> None:
    cam = station.camera()
    async with station.session.options(station.url + "/api/v1/uploads", headers=cam.auth_headers) as r:
        assert r.status == 204 and r.headers["Tus-Version"] == "1.0.0"
        assert set(r.headers["Tus-Extension"].split(",")) == {"creation", "checksum", "termination"}
    async with station.session.post(station.url + "/api/v1/uploads", headers={**cam.auth_headers,
            "Upload-Length": "10", "Upload-Metadata": metadata(filename="a.mp4", sha256="0" * 64)}) as r:
        assert r.status == 412 and r.headers["Tus-Resumable"] == "1.0.0"
