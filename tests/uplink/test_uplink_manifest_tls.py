"""The manifest call against the real central simulator reading a real object back from SeaweedFS, and the
HTTP target over TLS with a CA made by trustme: verified, a wrong CA refused and never retried."""

from __future__ import annotations

import hashlib
import os
import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme

from devices.simulators.central.faults import Fault
from edge.store import Store
from edge.uplink.central_access import CentralAccessError
from edge.uplink.outcomes import BadAnswer, Blocked, Confirmed, Resend, Retry
from edge.uplink.receipts import SentFile
from tests.support.seaweed import central_ingest, client
from tests.uplink.conftest import STATION, queue, target_for


async def upload(seaweed: Any, key: str, data: bytes) -> SentFile:
    async with client(seaweed) as s3:
        await s3.put_object(Bucket="footage", Key=key, Body=data)
    return SentFile(f"footage:{key}", "footage", key, len(data), hashlib.sha256(data).hexdigest())


async def test_a_manifest_receipt_is_verified_against_our_hash_and_a_wrong_one_is_caught(
        seaweed: Any, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    sent = await upload(seaweed, f"{STATION}/manifest-{os.urandom(4).hex()}.mp4", data)
    async with central_ingest(seaweed, tmp_path / "central") as central, target_for(central, tmp_path) as target:
        assert central.sim.ingest is not None
        central.sim.ingest.arm(Fault("wrong-hash"))
        wrong = await target.send_manifest(sent)
        assert isinstance(wrong, Resend) and wrong.reason == "receipt.hash_mismatch"

        central.sim.ingest.arm(Fault("wrong-signature"))
        forged = await target.send_manifest(sent)
        assert isinstance(forged, BadAnswer) and forged.reason == "receipt.bad_signature"

        true = await target.send_manifest(sent)
        assert isinstance(true, Confirmed) and true.duplicate  # the stored, true receipt, replayed
        assert true.receipt["sha256"] == sent.sha256 and true.receipt["size"] == len(data)


async def test_a_manifest_for_bytes_the_store_does_not_hold_asks_for_a_re_upload(
        seaweed: Any, tmp_path: Path) -> None:
    sent = await upload(seaweed, f"{STATION}/short-{os.urandom(4).hex()}.mp4", b"stored bytes")
    other = SentFile(sent.dedupe_key, sent.bucket, sent.key, sent.size, hashlib.sha256(b"stored bytez").hexdigest())
    missing = SentFile("footage:none", "footage", f"{STATION}/never-uploaded.mp4", 5, sent.sha256)
    async with central_ingest(seaweed, tmp_path / "central") as central, target_for(central, tmp_path) as target:
        differs = await target.send_manifest(other)
        assert isinstance(differs, Resend) and differs.reason == "http.422.object_hash_mismatch"
        gone = await target.send_manifest(missing)
        assert isinstance(gone, Resend) and gone.reason == "http.422.object_missing"
        assert isinstance(await target.send_manifest(sent), Confirmed)


async def test_without_an_object_store_the_manifest_is_retried_after_its_retry_after(tmp_path: Path) -> None:
    sent = SentFile("footage:x", "footage", "ST-1/x.mp4", 1, "0" * 64)
    async with central_ingest(None, tmp_path / "central") as central, target_for(central, tmp_path) as target:
        outcome = await target.send_manifest(sent)
        assert isinstance(outcome, Retry) and outcome.reason == "http.503.object_store_unavailable"
        assert outcome.after_s == 30


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA, *, require_client: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    if require_client:
        context.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(context)
    return context


async def test_tls_against_the_configured_ca(store: Store, ca: trustme.CA, tmp_path: Path) -> None:
    entries = await queue(store, "sos-tls")
    bundle = tmp_path / "police-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    async with central_ingest(None, tmp_path / "central", ssl_context=server_context(ca)) as central, \
            target_for(central, tmp_path, ca_file=bundle) as target:
        assert central.sim.url.startswith("https://")
        result = await target.send_batch(entries)
        assert isinstance(result.outcomes[entries[0].id], Confirmed)


async def test_a_client_certificate_is_presented_when_the_platform_requires_one(
        store: Store, ca: trustme.CA, tmp_path: Path) -> None:
    entries = await queue(store, "sos-mtls")
    bundle, station_pem = tmp_path / "police-ca.pem", tmp_path / "station.pem"
    ca.cert_pem.write_to_path(str(bundle))
    ca.issue_cert("st-1.station.example").private_key_and_cert_chain_pem.write_to_path(str(station_pem))
    async with central_ingest(None, tmp_path / "central", ssl_context=server_context(ca, require_client=True)) as c:
        async with target_for(c, tmp_path, ca_file=bundle, client_cert_file=station_pem) as target:
            assert isinstance((await target.send_batch(entries)).outcomes[entries[0].id], Confirmed)
        async with target_for(c, tmp_path / "no-cert", ca_file=bundle) as bare:
            refused = (await bare.send_batch(entries)).outcomes[entries[0].id]
            # TLS 1.3: the platform's refusal comes after the client's handshake, as a reset or an alert
            assert isinstance(refused, Retry) and refused.reason in ("tls.handshake", "transport.reset"), refused


async def test_a_wrong_ca_is_a_certificate_error_that_blocks_and_is_not_retried(
        store: Store, ca: trustme.CA, tmp_path: Path) -> None:
    entries = await queue(store, "sos-wrong-ca")
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    async with central_ingest(None, tmp_path / "central", ssl_context=server_context(ca)) as central, \
            target_for(central, tmp_path, ca_file=other) as target:
        refused = (await target.send_batch(entries)).outcomes[entries[0].id]
        assert isinstance(refused, Blocked) and refused.reason == "tls.certificate"
        assert "certificate verify failed" in refused.detail
        again = (await target.send_batch(entries)).outcomes[entries[0].id]
        assert again is target.blocked  # latched: no new connection talks the target into it
        assert central.sim.ingest is not None and central.sim.ingest.requests["batch"] == 0


def test_a_ca_bundle_that_is_not_pem_is_a_config_error(tmp_path: Path) -> None:
    from edge.uplink.central_access import load_access
    from edge.uplink.config import CentralConfig

    (tmp_path / "ca.pem").write_text("not a certificate")
    (tmp_path / "api").write_text("key-1\n")
    (tmp_path / "receipt").write_bytes(b"r" * 32)
    with pytest.raises(CentralAccessError) as caught:
        load_access(CentralConfig(url="https://central.example", api_key_file=tmp_path / "api",
                                  receipt_key_file=tmp_path / "receipt", ca_file=tmp_path / "ca.pem"))
    assert caught.value.key == "ca_file"


async def test_a_certificate_for_another_host_is_refused_as_a_certificate_error(
        store: Store, ca: trustme.CA, tmp_path: Path) -> None:
    entries = await queue(store, "sos-other-host")
    bundle = tmp_path / "police-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("central.elsewhere.example").configure_cert(context)  # valid chain, wrong name
    async with central_ingest(None, tmp_path / "central", ssl_context=context) as central, \
            target_for(central, tmp_path, ca_file=bundle) as target:
        refused = (await target.send_batch(entries)).outcomes[entries[0].id]
        assert isinstance(refused, Blocked) and refused.reason == "tls.certificate"
        assert "127.0.0.1" in refused.detail or "mismatch" in refused.detail
