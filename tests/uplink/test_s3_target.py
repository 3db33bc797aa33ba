"""The S3 footage target against a real SeaweedFS with keys enforced: a multipart upload whose object hashes to
the file's SHA-256, resume after a real SIGKILL wasting at most one part, ListParts paged past 1,000 parts, a
purged upload re-planned, a part the store holds with another ETag re-sent, wrong keys permanent, the link cut
in the middle of a part and the store stopped (transient), then resumed after it came back."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import signal
import uuid
from pathlib import Path

import pytest
from support.s3_target import DAY, MIB, STATION, CuttingProxy, footage_file, queued, s3_config, start_child
from support.seaweed import client

from devices.simulators.central.seaweed import SeaweedServer
from edge.store import Store, uplink_parts
from edge.store.database import connect
from edge.store.outbox import FileRef
from edge.store.uplink_parts import UploadPlan
from edge.uplink.s3_config import S3Config
from edge.uplink.targets.s3 import S3Credentials, S3FootageTarget, UploadResult, object_key
from edge.uplink.targets.s3_errors import S3Permanent, S3Transient

pytestmark = pytest.mark.slow


class Interrupted(Exception):
    """Raised from a progress callback: the run stops after a part, as a crash would."""



def station_config(server: SeaweedServer, directory: Path, endpoint: str | None = None, **options: object) -> S3Config:
    who = server.identity("station")
    return s3_config(directory, endpoint or server.endpoint, who.access_key, who.secret_key, **options)


def target(config: S3Config, store: Store) -> S3FootageTarget:
    return S3FootageTarget(config, S3Credentials.from_files(config), store, station_id=STATION)


async def upload(config: S3Config, store: Store, entry: int, file: FileRef, **options: object) -> UploadResult:
    async with target(config, store) as t:
        return await t.upload(entry, file, recorded=DAY, idempotency_key=f"key-{entry}", **options)  # type: ignore[arg-type]


def stop_after(parts: int) -> object:
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if len(seen) > parts:  # the first call reports what was there before any part
            raise Interrupted
    return progress


async def stored_object(server: SeaweedServer, key: str) -> tuple[str, dict[str, str], int]:
    async with client(server, "admin") as s3:
        head = await s3.head_object(Bucket="footage", Key=key)
        body = await (await s3.get_object(Bucket="footage", Key=key))["Body"].read()
    return hashlib.sha256(body).hexdigest(), head["Metadata"], len(body)


async def test_a_file_goes_up_in_parts_and_the_object_carries_its_sha256(seaweed: SeaweedServer, store: Store,
                                                                         tmp_path: Path) -> None:
    file = footage_file(tmp_path / "footage", 2 * 5 * MIB + 12_345)
    entry = await queued(store, file)
    reports: list[tuple[int, int]] = []
    result = await upload(station_config(seaweed, tmp_path), store, entry, file,
                          progress=lambda done, total: reports.append((done, total)))
    assert result.parts_sent == (1, 2, 3) and result.parts_kept == 0 and not result.replanned
    assert result.key == object_key(STATION, file.sha256, DAY) == f"stations/ST-1/footage/2026/03/01/{file.sha256}.mp4"
    sha, metadata, size = await stored_object(seaweed, result.key)
    assert (sha, size) == (file.sha256, file.size)
    assert metadata["sha256"] == file.sha256 and metadata["station-id"] == STATION
    assert metadata["idempotency-key"] == f"key-{entry}"
    assert reports == [(0, file.size), (5 * MIB, file.size), (10 * MIB, file.size), (file.size, file.size)]
    # Durable per part: number, size, ETag, and the SHA-256 of exactly the bytes sent.
    data = file.path.read_bytes()
    parts = await store.read(lambda q: uplink_parts.parts_of(q, entry))
    assert [(p.number, p.size) for p in parts] == [(1, 5 * MIB), (2, 5 * MIB), (3, 12_345)]
    assert [p.sha256 for p in parts] == [hashlib.sha256(data[i:i + 5 * MIB]).hexdigest() for i in (0, 5 * MIB,
                                                                                                   10 * MIB)]
    plan = await store.read(lambda q: uplink_parts.plan_of(q, entry))
    assert plan is not None and plan.completed
    # Asked again (a crash before the drain marked it sent): nothing is sent, the object is recognised.
    again = await upload(station_config(seaweed, tmp_path), store, entry, file)
    assert again.parts_sent == () and again.etag == result.etag


async def test_resume_after_sigkill_sends_at_most_one_part_again(seaweed: SeaweedServer, store: Store,
                                                                 tmp_path: Path) -> None:
    """A real child process runs the target and is SIGKILLed once 3 parts are recorded; the parts the store
    lists beyond the recorded ones at that moment are the waste (at most the one in flight)."""
    file = footage_file(tmp_path / "footage", 7 * 5 * MIB + 999)
    entry = await queued(store, file)
    config = station_config(seaweed, tmp_path)
    child = await start_child(store.path, config, entry, file, pause_s=0.4)
    reader = connect(store.path, readonly=True)
    try:
        for _ in range(600):
            if reader.execute("SELECT count(*) FROM uplink_parts WHERE entry_id = ?", (entry,)).fetchone()[0] >= 3:
                break
            await asyncio.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        await child.wait()
        recorded = {row[0] for row in reader.execute("SELECT part_number FROM uplink_parts WHERE entry_id = ?",
                                                     (entry,))}
    finally:
        reader.close()
    assert len(recorded) >= 3 and child.returncode == -signal.SIGKILL
    plan = await store.read(lambda q: uplink_parts.plan_of(q, entry))
    assert plan is not None
    async with target(config, store) as t:
        listed = set(await t.list_parts(plan))
    assert recorded <= listed and len(listed - recorded) <= 1  # the part in flight, if it reached the store
    result = await upload(config, store, entry, file)
    assert not set(result.parts_sent) & recorded  # no recorded part sent twice
    assert sorted(result.parts_sent) == [n for n in range(1, 9) if n not in recorded]
    assert result.parts_kept == len(recorded) and not result.replanned
    sha, _, _ = await stored_object(seaweed, result.key)
    assert sha == file.sha256


async def test_list_parts_pages_past_1000_parts(seaweed: SeaweedServer, store: Store, tmp_path: Path) -> None:
    """A real upload of 1,001 one-byte parts (S3 checks the 5 MiB minimum only at completion): the default
    page of 1,000 needs a second page, and a page of 2 needs 501."""
    key = f"t/{uuid.uuid4().hex}.mp4"
    async with client(seaweed) as s3:
        upload_id = (await s3.create_multipart_upload(Bucket="footage", Key=key))["UploadId"]
        gate = asyncio.Semaphore(16)

        async def put(number: int) -> None:
            async with gate:
                await s3.upload_part(Bucket="footage", Key=key, UploadId=upload_id, PartNumber=number, Body=b"x")
        await asyncio.gather(*(put(n) for n in range(1, 1002)))
        single = await s3.list_parts(Bucket="footage", Key=key, UploadId=upload_id, MaxParts=1000)
        assert len(single["Parts"]) == 1000 and single["IsTruncated"]  # one page is not all of it
        plan = UploadPlan(1, "footage", key, upload_id, 5 * MIB, 1001, "00" * 32)
        async with target(station_config(seaweed, tmp_path), store) as t:
            listed = await t.list_parts(plan)
            small_pages = await t.list_parts(plan, page_size=2)
        assert sorted(listed) == list(range(1, 1002)) and all(part[1] == 1 for part in listed.values() if part)
        assert None not in listed.values()
        assert small_pages == listed
        await s3.abort_multipart_upload(Bucket="footage", Key=key, UploadId=upload_id)


async def test_a_purged_upload_is_replanned(seaweed: SeaweedServer, store: Store, tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    file = footage_file(tmp_path / "footage", 2 * 5 * MIB + 1)
    entry = await queued(store, file)
    config = station_config(seaweed, tmp_path)
    with pytest.raises(Interrupted):
        await upload(config, store, entry, file, progress=stop_after(1))
    plan = await store.read(lambda q: uplink_parts.plan_of(q, entry))
    assert plan is not None
    async with client(seaweed, "admin") as s3:  # the store purges it behind the station's back
        await s3.abort_multipart_upload(Bucket="footage", Key=plan.key, UploadId=plan.upload_id)
    with caplog.at_level(logging.WARNING, logger="edge.uplink.targets.s3"):
        result = await upload(config, store, entry, file)
    assert result.replanned and result.parts_sent == (1, 2, 3) and result.parts_kept == 0
    assert any("NoSuchUpload" in r.getMessage() and plan.upload_id in r.getMessage() for r in caplog.records)
    new_plan = await store.read(lambda q: uplink_parts.plan_of(q, entry))
    assert new_plan is not None and new_plan.upload_id != plan.upload_id
    sha, _, _ = await stored_object(seaweed, result.key)
    assert sha == file.sha256


async def test_a_part_the_store_holds_with_another_etag_is_sent_again(seaweed: SeaweedServer, store: Store,
                                                                      tmp_path: Path) -> None:
    file = footage_file(tmp_path / "footage", 2 * 5 * MIB + 10)
    entry = await queued(store, file)
    config = station_config(seaweed, tmp_path)
    with pytest.raises(Interrupted):
        await upload(config, store, entry, file, progress=stop_after(2))
    plan = await store.read(lambda q: uplink_parts.plan_of(q, entry))
    assert plan is not None
    async with client(seaweed) as s3:  # other bytes under part 1: its ETag no longer matches the record
        await s3.upload_part(Bucket="footage", Key=plan.key, UploadId=plan.upload_id, PartNumber=1,
                             Body=os.urandom(5 * MIB))
    result = await upload(config, store, entry, file)
    assert result.parts_sent == (1, 3) and result.parts_kept == 1
    sha, _, _ = await stored_object(seaweed, result.key)
    assert sha == file.sha256


@pytest.mark.parametrize(("who", "reason"), [
    ("wrong-secret", "s3.signature_does_not_match"),
    ("unknown-key", "s3.invalid_access_key_id"),
    ("read-only", "s3.access_denied"),
])
async def test_wrong_keys_are_permanent(seaweed: SeaweedServer, store: Store, tmp_path: Path, who: str,
                                        reason: str) -> None:
    station, central = seaweed.identity("station"), seaweed.identity("central")
    keys = {"wrong-secret": (station.access_key, "not-the-secret"),
            "unknown-key": ("UNKNOWNKEY123", station.secret_key),
            "read-only": (central.access_key, central.secret_key)}[who]
    file = footage_file(tmp_path / "footage", 1000)
    entry = await queued(store, file)
    with pytest.raises(S3Permanent) as refused:
        await upload(s3_config(tmp_path, seaweed.endpoint, *keys), store, entry, file)
    assert refused.value.reason == reason and not refused.value.transient
    assert refused.value.outcome == "blocked"  # wrong for every entry: the target stops, footage is not dead-lettered
    assert keys[1] not in str(refused.value)
    assert await store.read(lambda q: uplink_parts.plan_of(q, entry)) is None


async def test_link_cut_mid_part_and_store_stopped_are_transient_then_the_upload_resumes(
        store: Store, tmp_path: Path) -> None:
    server = SeaweedServer(tmp_path / "own-seaweed")
    await server.start_async()
    proxy = CuttingProxy("127.0.0.1", server.s3_port)
    await proxy.start()
    try:
        file = footage_file(tmp_path / "footage", 3 * 5 * MIB + 77)
        entry = await queued(store, file)
        config = station_config(server, tmp_path, endpoint=f"http://127.0.0.1:{proxy.port}")
        parts_done: list[int] = []

        def cut_in_part_2(done: int, total: int) -> None:
            parts_done.append(done)
            if done == 5 * MIB:  # part 1 is recorded: cut 2 MiB into part 2's body
                proxy.arm(2 * MIB)
        with pytest.raises(S3Transient) as cut:
            await upload(config, store, entry, file, progress=cut_in_part_2)
        assert proxy.cut_done.is_set() and cut.value.transient and cut.value.reason == "s3.unreachable"
        assert cut.value.outcome == "retry"
        assert [p.number for p in await store.read(lambda q: uplink_parts.parts_of(q, entry))] == [1]

        proxy.accepting = True
        await asyncio.to_thread(server.stop)  # now the store itself is gone
        with pytest.raises(S3Transient) as down:
            await upload(config, store, entry, file)
        assert down.value.reason == "s3.unreachable"

        await server.start_async()  # same ports, same data, the unfinished upload still there
        result = await upload(config, store, entry, file)
        assert result.parts_kept == 1 and result.parts_sent == (2, 3, 4) and not result.replanned
        sha, _, size = await stored_object(server, result.key)
        assert (sha, size) == (file.sha256, file.size)
    finally:
        await proxy.stop()
        await asyncio.to_thread(server.stop)


async def test_a_file_changed_since_its_upload_began_is_uploaded_anew(seaweed: SeaweedServer, store: Store,
                                                                      tmp_path: Path) -> None:
    first = footage_file(tmp_path / "footage", 5 * MIB + 5)
    entry = await queued(store, first)
    config = station_config(seaweed, tmp_path)
    with pytest.raises(Interrupted):
        await upload(config, store, entry, first, progress=stop_after(1))
    old = await store.read(lambda q: uplink_parts.plan_of(q, entry))
    other = footage_file(tmp_path / "other", 5 * MIB + 6)  # the entry now names other bytes
    result = await upload(config, store, entry, other)
    assert result.replanned and result.parts_sent == (1, 2) and result.sha256 == other.sha256
    sha, metadata, _ = await stored_object(seaweed, result.key)
    assert sha == metadata["sha256"] == other.sha256
    async with client(seaweed) as s3:  # the old upload was aborted, not left on the store
        uploads = await s3.list_multipart_uploads(Bucket="footage", Prefix=old.key if old else "")
    assert old is not None and all(u["UploadId"] != old.upload_id for u in uploads.get("Uploads", []))


async def test_a_missing_file_is_permanent_and_opens_no_upload(seaweed: SeaweedServer, store: Store,
                                                               tmp_path: Path) -> None:
    file = footage_file(tmp_path / "footage", 1000)
    entry = await queued(store, file)
    file.path.unlink()
    with pytest.raises(S3Permanent) as gone:
        await upload(station_config(seaweed, tmp_path), store, entry, file)
    assert gone.value.reason == "file.missing" and str(file.path) in str(gone.value)
    assert gone.value.outcome == "permanent"
    assert await store.read(lambda q: uplink_parts.plan_of(q, entry)) is None


async def test_requests_carry_content_md5_and_no_sdk_checksums(seaweed: SeaweedServer, store: Store,
                                                               tmp_path: Path) -> None:
    """Checksums "when required": the requests on the wire (through a recording proxy) carry the part's
    Content-MD5 and none of the CRC checksum headers recent SDKs add by default."""
    proxy = CuttingProxy("127.0.0.1", seaweed.s3_port)
    proxy.recording = True
    await proxy.start()
    try:
        file = footage_file(tmp_path / "footage", 5 * MIB + 3)
        entry = await queued(store, file)
        await upload(station_config(seaweed, tmp_path, endpoint=f"http://127.0.0.1:{proxy.port}"), store, entry,
                     file)
    finally:
        await proxy.stop()
    wire = bytes(proxy.sent).lower()
    assert wire.count(b"put /footage/stations/st-1/") == 2 and wire.count(b"content-md5:") == 2
    assert b"x-amz-checksum" not in wire and b"x-amz-sdk-checksum" not in wire
    assert b"x-amz-meta-sha256: " + file.sha256.encode() in wire


async def test_each_part_waits_at_the_gate_and_a_refusal_there_stops_at_the_boundary(
        seaweed: SeaweedServer, store: Store, tmp_path: Path) -> None:
    """The drain's hook before each part (budget, critical preemption): sizes as planned; raising there leaves
    the parts before it recorded, and the next call goes on from there."""
    file = footage_file(tmp_path / "footage", 2 * 5 * MIB + 4)
    entry = await queued(store, file)
    config = station_config(seaweed, tmp_path)
    asked: list[tuple[int, int]] = []

    async def preempt_at_3(number: int, size: int) -> None:
        asked.append((number, size))
        if number == 3:
            raise Interrupted
    with pytest.raises(Interrupted):
        await upload(config, store, entry, file, before_part=preempt_at_3)
    assert asked == [(1, 5 * MIB), (2, 5 * MIB), (3, 4)]
    assert [p.number for p in await store.read(lambda q: uplink_parts.parts_of(q, entry))] == [1, 2]
    result = await upload(config, store, entry, file)
    assert result.parts_sent == (3,) and result.parts_kept == 2


async def test_an_uploaded_file_gets_a_verified_receipt_from_the_central_platform(
        seaweed: SeaweedServer, store: Store, tmp_path: Path) -> None:
    """The loop closes: the target's multipart object, named in a manifest by the HTTP target, is read back
    by the simulated central platform from the same SeaweedFS; its signed receipt carries our SHA-256."""
    from support.seaweed import central_ingest

    from edge.uplink.outcomes import Confirmed
    from tests.uplink.conftest import target_for

    file = footage_file(tmp_path / "footage", 5 * MIB + 321)
    entry = await queued(store, file)
    result = await upload(station_config(seaweed, tmp_path), store, entry, file)
    async with central_ingest(seaweed, tmp_path / "central") as central, target_for(central, tmp_path) as http:
        outcome = await http.send_manifest(result.sent_file(f"footage:{file.sha256}"))
    assert isinstance(outcome, Confirmed), outcome
    assert outcome.receipt["sha256"] == file.sha256 and outcome.receipt["key"] == result.key


async def test_tls_to_the_store_verifies_against_the_configured_ca(seaweed: SeaweedServer, store: Store,
                                                                   tmp_path: Path) -> None:
    """https through a TLS front made with a trustme CA: verified against ca_file it goes; against another
    CA it is refused as a TLS failure that blocks the target (never retried into acceptance)."""
    import ssl

    import trustme
    from support.s3_target import TlsFront

    from edge.uplink.targets.s3_errors import S3TlsRefused

    ca, stranger = trustme.CA(), trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca.cert_pem.write_to_path(str(tmp_path / "police-ca.pem"))
    stranger.cert_pem.write_to_path(str(tmp_path / "other-ca.pem"))
    front = TlsFront(seaweed.s3_port, server_context)
    await front.start()
    try:
        endpoint = f"https://127.0.0.1:{front.port}"
        file = footage_file(tmp_path / "footage", 5 * MIB + 1)
        entry = await queued(store, file)
        with pytest.raises(S3TlsRefused) as refused:
            await upload(station_config(seaweed, tmp_path / "bad", endpoint=endpoint,
                                        ca_file=tmp_path / "other-ca.pem"), store, entry, file)
        assert refused.value.outcome == "blocked" and refused.value.reason == "s3.tls" and not refused.value.transient
        result = await upload(station_config(seaweed, tmp_path / "good", endpoint=endpoint,
                                             ca_file=tmp_path / "police-ca.pem"), store, entry, file)
        sha, _, _ = await stored_object(seaweed, result.key)
        assert sha == file.sha256
    finally:
        await front.stop()
