"""Bad input: each case gets a specific problem type and loses nothing already received."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import secrets
from pathlib import Path

import aiohttp
import pytest
from support.footage import Station, run_station
from support.not_video import NOT_VIDEO, make_not_video
from support.tmpfs import mounted_tmpfs
from support.tokens import auth

from devices.simulators.uploader import TUS, metadata
from edge.bodycam.footage import sidecar
from edge.config import Role

PROBLEM = "urn:station-edge:problem:"


async def _create(station: Station, length: str, **meta: str) -> tuple[int, dict[str, str], dict | None]:
    cam = station.camera()
    async with station.session.post(station.url + "/api/v1/uploads", headers={
            **TUS, **cam.auth_headers, "Upload-Length": length, "Upload-Metadata": metadata(**meta)}) as r:
        return r.status, dict(r.headers), (await r.json(content_type=None) if r.status >= 400 else None)


async def _patch(station: Station, location: str, offset: int, body: bytes | io.BytesIO, **headers: str
                 ) -> tuple[int, dict[str, str], dict | None]:
    cam = station.camera()
    data = io.BytesIO(body) if isinstance(body, bytes) else body  # aiohttp warns on large raw bytes
    async with station.session.patch(station.url + location, data=data, headers={
            **TUS, **cam.auth_headers, "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream", **headers}) as r:
        return r.status, dict(r.headers), (await r.json(content_type=None) if r.status >= 400 else None)


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "a\x00b.mp4", "dir\\clip.mp4", "..", "",
                                  "C:clip.mp4", "a/b.mp4"])
async def test_path_like_names_are_refused(station: Station, name: str) -> None:
    status, _, problem = await _create(station, "100", filename=name, sha256="a" * 64)
    assert status == 400 and problem is not None and problem["type"] == PROBLEM + "invalid-file-name"


async def test_zero_bytes_missing_hash_and_bad_length(station: Station) -> None:
    status, _, problem = await _create(station, "0", filename="a.mp4", sha256="a" * 64)
    assert (status, problem and problem["type"]) == (400, PROBLEM + "empty-upload")
    status, _, problem = await _create(station, "10", filename="a.mp4")
    assert (status, problem and problem["type"]) == (400, PROBLEM + "invalid-sha256")
    status, _, problem = await _create(station, "-5", filename="a.mp4", sha256="a" * 64)
    assert (status, problem and problem["type"]) == (400, PROBLEM + "invalid-upload-length")


async def test_wrong_offset_is_409_and_more_than_declared_is_refused(station: Station) -> None:
    data = os.urandom(3000)
    status, headers, _ = await _create(station, "3000", filename="x.mp4", sha256=hashlib.sha256(data).hexdigest())
    loc = headers["Location"]
    assert (await _patch(station, loc, 0, data[:1000]))[0] == 204
    status, _, problem = await _patch(station, loc, 0, data[:1000])
    assert status == 409 and problem is not None and problem["type"] == PROBLEM + "offset-mismatch"
    assert problem["upload_offset"] == 1000
    status, _, problem = await _patch(station, loc, 1000, data[1000:] + b"extra")
    assert status == 413 and problem is not None and problem["type"] == PROBLEM + "exceeds-upload-length"
    status, headers, _ = await _patch(station, loc, 1000, data[1000:])  # nothing was lost: resume completes
    assert status == 204 and headers["Footage-State"] == "complete"
    status, _, problem = await _patch(station, loc, 3000, b"x")
    assert status == 409 and problem is not None and problem["type"] == PROBLEM + "upload-complete"


async def test_per_request_checksum_mismatch_discards_only_that_request(station: Station) -> None:
    data = os.urandom(2000)
    _, headers, _ = await _create(station, "2000", filename="c.mp4", sha256=hashlib.sha256(data).hexdigest())
    loc = headers["Location"]
    good = "sha256 " + base64.b64encode(hashlib.sha256(data[:1000]).digest()).decode()
    assert (await _patch(station, loc, 0, data[:1000], **{"Upload-Checksum": good}))[0] == 204
    bad = "sha256 " + base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    status, _, problem = await _patch(station, loc, 1000, data[1000:], **{"Upload-Checksum": bad})
    assert status == 460 and problem is not None and problem["type"] == PROBLEM + "checksum-mismatch"
    status, headers, _ = await _patch(station, loc, 1000, data[1000:])
    assert status == 204 and headers["Footage-State"] == "complete"


async def test_non_video_content_is_ingested_and_flagged_damaged(station: Station, tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    result = await station.camera().upload(text)
    assert result.state == "complete"
    await station.idle()
    _, row = await station.get(f"/api/v1/footage/{result.footage_id}")
    assert row["damaged"] and any("not a media file" in p for p in row["problems"])
    assert [c["action"] for c in row["custody"]] == ["footage.ingested", "footage.flagged_damaged"]


@pytest.mark.parametrize("kind", ["jpeg", "png", "audio-mp4", "zero-duration-mp4", "one-frame-mp4"])
async def test_not_video_named_mp4_is_kept_flagged_alerted_and_in_custody(station: Station, tmp_path: Path,
                                                                          kind: str) -> None:
    path = await asyncio.to_thread(make_not_video, kind, tmp_path / "clip.mp4")  # the ffmpeg CLI's output
    result = await station.camera().upload(path)
    assert result.state == "complete" and result.footage_id is not None
    await station.idle()
    _, row = await station.get(f"/api/v1/footage/{result.footage_id}")
    reason = NOT_VIDEO[kind][1]
    assert row["state"] == "good" and row["damaged"] and row["problems"][0] == reason
    assert (station.footage_root / row["path"]).read_bytes() == path.read_bytes()  # kept as received
    assert [c["action"] for c in row["custody"]] == ["footage.ingested", "footage.flagged_not_video"]
    assert row["custody"][1]["reason"].startswith(reason)
    _, alerts = await station.get("/api/v1/alerts", role=Role.TECHNICIAN)
    [alert] = [a for a in alerts["items"] if a["key"] == f"footage.not_video:{result.footage_id}"]
    assert alert["kind"] == "footage.not_video" and reason in alert["message"]


async def test_body_larger_than_max_body_bytes_streams(station: Station, tmp_path: Path) -> None:
    big = tmp_path / "big.ts"
    big.write_bytes(os.urandom(3 * 2**20))  # http.max_body_bytes is 1 MiB: it must not apply to uploads
    assert station.daemon.config.http.max_body_bytes < 3 * 2**20
    result = await station.camera().upload(big)
    assert result.state == "complete", result


async def test_termination_removes_only_unfinished_uploads(station: Station) -> None:
    data = os.urandom(100)
    _, headers, _ = await _create(station, "100", filename="t.mp4", sha256=hashlib.sha256(data).hexdigest())
    cam = station.camera()
    async with station.session.delete(station.url + headers["Location"], headers={**TUS, **cam.auth_headers}) as r:
        assert r.status == 204
    async with station.session.head(station.url + headers["Location"], headers={**TUS, **cam.auth_headers}) as r:
        assert r.status == 404
    _, headers, _ = await _create(station, "100", filename="u.mp4", sha256=hashlib.sha256(data).hexdigest())
    await _patch(station, headers["Location"], 0, data)
    async with station.session.delete(station.url + headers["Location"], headers={**TUS, **cam.auth_headers}) as r:
        assert r.status == 409


@pytest.fixture
def tiny_fs(tmp_path: Path):
    with mounted_tmpfs(tmp_path / "tiny", "8m") as mount:
        yield mount


async def test_disk_that_fills_mid_write_gives_507_and_keeps_the_daemon(footage_config, tiny_fs: Path) -> None:
    config = footage_config(dir=str(tiny_fs), high_watermark_pct=98, critical_watermark_pct=99.9)
    async with run_station(config) as station:
        data = os.urandom(6 * 2**20)
        _, headers, _ = await _create(station, str(len(data)), filename="big.mp4",
                                      sha256=hashlib.sha256(data).hexdigest())
        filler = tiny_fs / "filler"
        filler.write_bytes(b"\0" * (4 * 2**20))  # someone else fills the disk after the upload was admitted
        status, resp_headers, problem = await _patch(station, headers["Location"], 0, io.BytesIO(data))
        assert status == 507 and problem is not None and problem["type"] == PROBLEM + "insufficient-storage"
        good = await station.daemon.store.read(lambda q: q.all("SELECT * FROM footage"))
        assert good == []  # nothing partial counts as footage
        async with station.session.get(station.url + "/healthz") as r:
            assert r.status == 200
        filler.unlink()
        offset = await station.camera().offset(headers["Location"])
        status, resp_headers, _ = await _patch(station, headers["Location"], offset, data[offset:])
        assert status == 204 and resp_headers["Footage-State"] == "complete"


async def test_critical_watermark_refuses_routine_and_unannounced_claims_of_marked(footage_config, tiny_fs: Path
                                                                                  ) -> None:
    """An upload's own ``marked`` is only a claim: without the camera's announcement it bypasses nothing.
    (The announced case, taken at critical, is in tests/bodycam/test_footage_attribution.py.)"""
    filler = tiny_fs / "filler"
    filler.write_bytes(b"\0" * (7 * 2**20))
    config = footage_config(dir=str(tiny_fs), high_watermark_pct=50, critical_watermark_pct=80, hard_floor_mb=0)
    async with run_station(config) as station:
        data = os.urandom(1000)
        sha = hashlib.sha256(data).hexdigest()
        status, _, problem = await _create(station, "1000", filename="r.mp4", sha256=sha)
        assert status == 507 and problem is not None and problem["type"] == PROBLEM + "insufficient-storage"
        for claim in ({"marked": "true"}, {"evidence": "true"}):
            status, _, problem = await _create(station, "1000", filename="e.mp4", sha256=sha, **claim)
            assert status == 507 and problem is not None and problem["type"] == PROBLEM + "insufficient-storage"
        assert await station.daemon.store.read(lambda q: q.all("SELECT id FROM ingests")) == []
        _, alerts = await station.get("/api/v1/alerts", role=__import__("edge.config").config.Role.TECHNICIAN)
        kinds = {a["kind"] for a in alerts["items"]}
        assert {"disk.high", "disk.critical"} <= kinds
        filler.unlink()
        await station.daemon.footage.disk.check()  # type: ignore[union-attr]
        _, alerts = await station.get("/api/v1/alerts", role=__import__("edge.config").config.Role.TECHNICIAN)
        assert not {a["kind"] for a in alerts["items"]} & {"disk.high", "disk.critical"}


async def test_client_disconnect_keeps_received_bytes(station: Station) -> None:
    data = os.urandom(4 * 2**20)
    _, headers, _ = await _create(station, str(len(data)), filename="d.mp4", sha256=hashlib.sha256(data).hexdigest())
    cam = station.camera()
    with pytest.raises(aiohttp.ClientError):
        await cam.patch(headers["Location"], _write(station, data), 0, stop_after=2 * 2**20 + 5)
    assert await cam.offset(headers["Location"]) > 0


def _write(station: Station, data: bytes) -> Path:
    path = station.footage_root.parent / "d.bin"
    path.write_bytes(data)
    return path


async def test_a_flood_of_bogus_upload_ids_creates_no_state(station: Station) -> None:
    manager = station.daemon.footage.api.uploads  # type: ignore[union-attr]
    data = os.urandom(2000)
    _, headers, _ = await _create(station, "2000", filename="p.mp4", sha256=hashlib.sha256(data).hexdigest())
    partial = headers["Location"]
    assert (await _patch(station, partial, 0, data[:1000]))[0] == 204
    _, headers, _ = await _create(station, "100", filename="f.mp4", sha256=hashlib.sha256(data[:100]).hexdigest())
    finished = headers["Location"]
    assert (await _patch(station, finished, 0, data[:100]))[0] == 204
    assert manager.session_count == 1  # the unfinished upload keeps its running hash between requests
    ingests = await station.daemon.store.read(lambda q: q.all("SELECT id, state, received FROM ingests"))

    cam = station.camera()
    other = station.camera("cam-0002")
    malformed = ["x", "A" * 32, "g" * 32, "0" * 31, "0" * 33, "0" * 500, "%00" * 8, "..%2F..%2Fetc"]
    for bogus in malformed + [secrets.token_hex(16) for _ in range(200)]:
        url = station.url + "/api/v1/uploads/" + bogus
        async with station.session.patch(url, data=b"x", headers={
                **TUS, **cam.auth_headers, "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream"}) as r:
            problem = await r.json(content_type=None)
            assert (r.status, problem["type"]) in ((400, PROBLEM + "invalid-upload-id"),
                                                    (404, PROBLEM + "upload-not-found")), (bogus, problem)
            assert (r.status == 400) == (bogus in malformed), bogus
        async with station.session.delete(url, headers={**TUS, **cam.auth_headers}) as r:
            assert r.status in (400, 404)
        async with station.session.head(url, headers={**TUS, **cam.auth_headers}) as r:
            assert r.status in (400, 404)
    for _ in range(50):  # finished uploads and another camera's upload take no state either
        assert (await _patch(station, finished, 100, b"x"))[0] == 409
        async with station.session.delete(station.url + finished, headers={**TUS, **cam.auth_headers}) as r:
            assert r.status == 409
        async with station.session.patch(station.url + partial, data=b"x", headers={
                **TUS, **other.auth_headers, "Upload-Offset": "1000",
                "Content-Type": "application/offset+octet-stream"}) as r:
            assert r.status == 404
    assert manager.session_count == 1
    assert await station.daemon.store.read(lambda q: q.all("SELECT id, state, received FROM ingests")) == ingests
    status, headers, _ = await _patch(station, partial, 1000, data[1000:])  # the real upload is unaffected
    assert status == 204 and headers["Footage-State"] == "complete"
    assert manager.session_count == 0


@pytest.mark.parametrize(("meta", "problem_type"), [
    ({"filename": "clip\x85.mp4"}, "invalid-file-name"),  # a C1 control
    ({"filename": "clip\x1b[2J.mp4"}, "invalid-file-name"),
    ({"sha256": "a" * 64 + "\n"}, "invalid-sha256"),  # "$" of a regex would let the newline through
    ({"recorded_at": "2024-06-01T00:00:00\x00Z"}, "invalid-recorded-at"),  # Python's ISO parser takes the NUL
    ({"device": "cam-0001\n"}, "invalid-device-id"),  # a technician naming the camera
])
async def test_control_characters_in_upload_metadata_are_refused(station: Station, meta: dict[str, str],
                                                                 problem_type: str) -> None:
    fields = {"filename": "clip.mp4", "sha256": "b" * 64, "device": "cam-0001", **meta}
    async with station.session.post(station.url + "/api/v1/uploads", headers={
            **TUS, **auth(Role.TECHNICIAN), "Upload-Length": "100", "Upload-Metadata": metadata(**fields)}) as r:
        problem = await r.json(content_type=None)
        assert r.status == 400 and problem["type"] == PROBLEM + problem_type, problem
    ok = {"filename": "clip.mp4", "sha256": "b" * 64, "device": "cam-0001", "recorded_at": "2024-06-01T00:00:00Z"}
    async with station.session.post(station.url + "/api/v1/uploads", headers={
            **TUS, **auth(Role.TECHNICIAN), "Upload-Length": "100", "Upload-Metadata": metadata(**ok)}) as r:
        assert r.status == 201  # the daemon goes on taking uploads


@pytest.mark.parametrize(("body", "why"), [
    (b'{"marked": true, "sha256": "' + b"a" * 64 + b'\\n"}', "'sha256' must be 64 lowercase hex digits"),
    (b'{"marked": true, "name": "BW1\\u0000.mp4"}', "'name' contains control character U+0000"),
    (b'{"marked": true, "name": "BW1\\u009b.mp4"}', "'name' contains control character U+009B"),
])
def test_a_sidecar_with_control_characters_is_refused(body: bytes, why: str) -> None:
    with pytest.raises(sidecar.BadSidecarError) as caught:
        sidecar.parse(body)
    assert str(caught.value) == why
    assert sidecar.parse(b'{"marked": true, "name": "BW1.mp4", "sha256": "' + b"a" * 64 + b'"}').marked
