"""Receipt verification, pure: signatures (checked against the simulator's independent signer), the station,
unknown items, and hash/size mismatches each give their own error."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.simulators.central import receipts as central
from edge.uplink import receipts
from edge.uplink.receipts import SentFile, SentItem

KEY = b"k" * 32
PAYLOAD = {"state": "raised", "name": "林晓梅", "n": 3}
SHA = receipts.payload_sha256(PAYLOAD)
SENT = {"alert-1": SentItem("alert", "alert-1", SHA)}
FILE = SentFile("footage:abc", "footage", "ST-1/2026/abc.mp4", 1234, hashlib.sha256(b"x").hexdigest())


def item_receipt(key: bytes = KEY, **overrides: Any) -> dict[str, Any]:
    fields = {"station": "ST-1", "kind": "alert", "dedupe_key": "alert-1", "payload_sha256": SHA,
              "receipt_id": "r1", "received_at": "2026-12-01T19:40:00.123456Z", **overrides}
    return central.sign_item(key, fields, "central-1")


def file_receipt(signing_key: bytes = KEY, **overrides: Any) -> dict[str, Any]:
    fields = {"station": "ST-1", "dedupe_key": FILE.dedupe_key, "bucket": FILE.bucket, "key": FILE.key,
              "size": FILE.size, "sha256": FILE.sha256, "received_at": "2026-12-01T19:40:00.123456Z", **overrides}
    return central.sign_file(signing_key, fields, "central-1")


def test_our_payload_digest_is_the_platforms() -> None:
    assert central.payload_digest(PAYLOAD) == SHA


def test_a_true_item_receipt_names_the_item_it_confirms() -> None:
    assert receipts.verify_item(KEY, item_receipt(), station="ST-1", sent=SENT) == SENT["alert-1"]


def test_a_receipt_under_another_key_is_a_bad_signature() -> None:
    with pytest.raises(receipts.BadSignature) as caught:
        receipts.verify_item(KEY, item_receipt(key=b"other" * 8), station="ST-1", sent=SENT)
    assert caught.value.reason == "receipt.bad_signature" and caught.value.dedupe_key == "alert-1"


def test_an_altered_receipt_is_a_bad_signature() -> None:
    altered = {**item_receipt(), "receipt_id": "r2"}
    with pytest.raises(receipts.BadSignature):
        receipts.verify_item(KEY, altered, station="ST-1", sent=SENT)


def test_a_signed_receipt_for_an_item_we_did_not_send_is_an_unknown_item() -> None:
    with pytest.raises(receipts.UnknownItem) as caught:
        receipts.verify_item(KEY, item_receipt(dedupe_key="never-sent"), station="ST-1", sent=SENT)
    assert caught.value.reason == "receipt.unknown_item"


def test_another_stations_receipt_is_refused() -> None:
    with pytest.raises(receipts.WrongStation):
        receipts.verify_item(KEY, item_receipt(station="ST-2"), station="ST-1", sent=SENT)


def test_a_receipt_for_another_payload_is_a_hash_mismatch() -> None:
    with pytest.raises(receipts.ReceiptMismatch) as caught:
        receipts.verify_item(KEY, item_receipt(payload_sha256="0" * 64), station="ST-1", sent=SENT)
    assert caught.value.reason == "receipt.hash_mismatch" and caught.value.ours == SHA


@pytest.mark.parametrize("receipt", [
    "not an object", {"station": "ST-1"}, {**item_receipt(), "alg": "HMAC-MD5"},
    {**item_receipt(), "signature": "XYZ"}, {**item_receipt(), "kind": 7}, {**item_receipt(), "kind": "a\nb"},
])
def test_a_malformed_receipt_is_named_so(receipt: Any) -> None:
    with pytest.raises(receipts.MalformedReceipt):
        receipts.verify_item(KEY, receipt, station="ST-1", sent=SENT)


def test_a_true_file_receipt_verifies() -> None:
    receipts.verify_file(KEY, file_receipt(), station="ST-1", sent=FILE)


def test_a_file_receipt_with_another_hash_or_size_is_a_mismatch() -> None:
    with pytest.raises(receipts.ReceiptMismatch) as caught:
        receipts.verify_file(KEY, file_receipt(sha256="f" * 64), station="ST-1", sent=FILE)
    assert caught.value.reason == "receipt.hash_mismatch" and caught.value.theirs == "f" * 64
    with pytest.raises(receipts.ReceiptMismatch) as caught:
        receipts.verify_file(KEY, file_receipt(size=1235), station="ST-1", sent=FILE)
    assert caught.value.reason == "receipt.size_mismatch"


def test_a_file_receipt_for_another_object_is_an_unknown_item() -> None:
    with pytest.raises(receipts.UnknownItem):
        receipts.verify_file(KEY, file_receipt(key="ST-1/other.mp4"), station="ST-1", sent=FILE)


def test_a_file_receipt_with_a_boolean_size_is_malformed() -> None:
    with pytest.raises(receipts.MalformedReceipt):
        receipts.verify_file(KEY, {**file_receipt(), "size": True}, station="ST-1", sent=FILE)


text = st.text(st.characters(exclude_characters="\n", exclude_categories=("Cs",)), min_size=1, max_size=30)


@given(key=st.binary(min_size=16, max_size=64), other=st.binary(min_size=16, max_size=64), station=text,
       dedupe=text, receipt_id=text, field=st.sampled_from(receipts.ITEM_FIELDS), tweak=text)
def test_any_signed_receipt_verifies_under_its_key_only_and_any_changed_field_breaks_it(
        key: bytes, other: bytes, station: str, dedupe: str, receipt_id: str, field: str, tweak: str) -> None:
    fields = {"station": station, "kind": "event", "dedupe_key": dedupe, "payload_sha256": SHA,
              "receipt_id": receipt_id, "received_at": "2026-12-01T19:40:00.000000Z"}
    signed = central.sign_item(key, fields, "central-1")
    sent = {dedupe: SentItem("event", dedupe, SHA)}
    assert receipts.verify_item(key, signed, station=station, sent=sent).dedupe_key == dedupe
    if other != key:
        with pytest.raises(receipts.BadSignature):
            receipts.verify_item(other, signed, station=station, sent=sent)
    if tweak != signed[field]:
        with pytest.raises(receipts.BadSignature):
            receipts.verify_item(key, {**signed, field: tweak}, station=station, sent=sent)
