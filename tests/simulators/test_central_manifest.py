"""File manifests against the real SeaweedFS: the simulated central platform reads the object back, hashes it
and signs a receipt the station can verify; missing objects, wrong hashes and sizes, bad manifests and the
receipt faults each get their specific answer."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.seaweed import Central, central_ingest, client

from devices.simulators.central import receipts
from devices.simulators.central.faults import Fault
from devices.simulators.central.object_store import StoreAccess
from devices.simulators.central.seaweed import SeaweedServer

PROBLEM = "urn:central:problem:"
MIB = 1 << 20


@pytest.fixture
async def central(seaweed: SeaweedServer, tmp_path: Path) -> AsyncIterator[Central]:
    async with central_ingest(seaweed, tmp_path / "central") as running:
        yield running


async def upload(seaweed: SeaweedServer, data: bytes) -> str:
    """As the station's uplink will: multipart, the file's SHA-256 in the object metadata."""
    key = f"ST-1/{uuid.uuid4().hex}.mp4"
    async with client(seaweed) as s3:
        upload_id = (await s3.create_multipart_upload(
            Bucket="footage", Key=key, Metadata={"sha256": hashlib.sha256(data).hexdigest()}))["UploadId"]
        parts = []
        for number, start in enumerate(range(0, len(data), 5 * MIB), start=1):
            answer = await s3.upload_part(Bucket="footage", Key=key, UploadId=upload_id, PartNumber=number,
                                          Body=data[start:start + 5 * MIB])
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        await s3.complete_multipart_upload(Bucket="footage", Key=key, UploadId=upload_id,
                                           MultipartUpload={"Parts": parts})
    return key


def manifest(object_key: str, data: bytes, /, **changes: Any) -> dict[str, Any]:
    return {"station": "ST-1", "dedupe_key": f"footage:{object_key}", "bucket": "footage", "key": object_key,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), **changes}


async def send(central: Central, body: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.post(
            f"{central.sim.url}/api/v1/ingest/manifest", json=body, headers=central.headers) as answer:
        return answer.status, dict(answer.headers), await answer.json(content_type=None)


def station_accepts(receipt: dict[str, Any], key: bytes, own_sha256: str) -> bool:
    """The check the station's uplink makes (documented in docs/simulators.md)."""
    return (receipts.verify(key, receipts.FILE_RECEIPT_V1, receipts.FILE_FIELDS, receipt)
            and receipt["sha256"] == own_sha256)


async def test_a_manifest_is_verified_by_reading_the_object_back(seaweed: SeaweedServer, central: Central) -> None:
    data = os.urandom(11 * MIB + 7)  # three parts
    key = await upload(seaweed, data)
    status, headers, answer = await send(central, manifest(key, data))
    assert status == 200 and "Idempotent-Replayed" not in headers
    receipt = answer["receipt"]
    assert (receipt["key"], receipt["size"], receipt["bucket"]) == (key, len(data), "footage")
    assert station_accepts(receipt, central.receipt_key, hashlib.sha256(data).hexdigest())
    assert not station_accepts(receipt, b"another key", hashlib.sha256(data).hexdigest())
    status, headers, again = await send(central, manifest(key, data))
    assert status == 200 and headers["Idempotent-Replayed"] == "true" and again == answer


async def test_an_object_that_is_not_there(central: Central) -> None:
    status, _, problem = await send(central, manifest(f"ST-1/{uuid.uuid4().hex}.mp4", b"never uploaded"))
    assert (status, problem["type"]) == (422, PROBLEM + "object-missing")


async def test_bytes_that_differ_from_the_manifest(seaweed: SeaweedServer, central: Central) -> None:
    data = os.urandom(4096)
    key = await upload(seaweed, data)
    claimed = manifest(key, data, sha256=hashlib.sha256(b"other bytes").hexdigest())
    status, _, problem = await send(central, claimed)
    assert (status, problem["type"]) == (422, PROBLEM + "object-hash-mismatch")
    assert problem["actual"] == hashlib.sha256(data).hexdigest() and problem["expected"] == claimed["sha256"]
    status, _, problem = await send(central, manifest(key, data, size=len(data) + 1))
    assert (status, problem["type"], problem["actual"]) == (422, PROBLEM + "object-size-mismatch", len(data))
    assert central.sim.ingest is not None and not central.sim.ingest.manifests


async def test_a_dedupe_key_with_a_receipt_cannot_be_reused_for_other_bytes(seaweed: SeaweedServer,
                                                                           central: Central) -> None:
    first, second = os.urandom(1000), os.urandom(1000)
    key_1, key_2 = await upload(seaweed, first), await upload(seaweed, second)
    assert (await send(central, manifest(key_1, first)))[0] == 200
    status, _, problem = await send(central, manifest(key_2, second, dedupe_key=f"footage:{key_1}"))
    assert (status, problem["type"]) == (409, PROBLEM + "manifest-conflict")


@pytest.mark.parametrize(("changes", "status", "slug"), [
    ({"station": "ST-2"}, 403, "station-mismatch"),
    ({"bucket": "elsewhere"}, 422, "unknown-bucket"),
    ({"sha256": "ABC"}, 422, "invalid-manifest"),
    ({"size": -1}, 422, "invalid-manifest"),
    ({"size": True}, 422, "invalid-manifest"),
    ({"key": ""}, 422, "invalid-manifest"),
    ({"extra": 1}, 422, "invalid-manifest"),
])
async def test_bad_manifests(central: Central, changes: dict[str, Any], status: int, slug: str) -> None:
    got, _, problem = await send(central, manifest("ST-1/x.mp4", b"x", **changes))
    assert (got, problem["type"]) == (status, PROBLEM + slug)


async def test_wrong_hash_fault_then_the_resent_manifest_gets_the_true_receipt(seaweed: SeaweedServer,
                                                                              central: Central) -> None:
    data = os.urandom(2048)
    key, own = await upload(seaweed, data), hashlib.sha256(data).hexdigest()
    assert central.sim.ingest is not None
    central.sim.ingest.arm(Fault("wrong-hash"))
    _, _, answer = await send(central, manifest(key, data))
    wrong = answer["receipt"]
    assert receipts.verify(central.receipt_key, receipts.FILE_RECEIPT_V1, receipts.FILE_FIELDS, wrong)
    assert wrong["sha256"] != own and not station_accepts(wrong, central.receipt_key, own)
    _, _, answer = await send(central, manifest(key, data))  # the station re-uploads and re-sends
    assert station_accepts(answer["receipt"], central.receipt_key, own)


async def test_wrong_signature_fault(seaweed: SeaweedServer, central: Central) -> None:
    data = os.urandom(2048)
    key = await upload(seaweed, data)
    assert central.sim.ingest is not None
    central.sim.ingest.arm(Fault("wrong-signature"))
    _, _, answer = await send(central, manifest(key, data))
    assert answer["receipt"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert not station_accepts(answer["receipt"], central.receipt_key, hashlib.sha256(data).hexdigest())


async def test_an_unreachable_store_is_a_retryable_503(central: Central) -> None:
    assert central.sim.ingest is not None
    central.sim.ingest.settings.store = StoreAccess("http://127.0.0.1:1", "AK", "SK")
    status, headers, problem = await send(central, manifest("ST-1/x.mp4", b"x"))
    assert (status, problem["type"]) == (503, PROBLEM + "object-store-unavailable") and headers["Retry-After"]
