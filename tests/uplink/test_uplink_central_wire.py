"""The central wire format, pure: batch keys, Retry-After forms, and answers the simulator never gives
(missing receipts, another batch's answer, unexpected statuses)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.simulators.central import receipts as central
from edge.store.uplink_queue import ClaimedEntry, TrafficClass
from edge.uplink.central_access import CentralAccessError, load_access
from edge.uplink.config import CentralConfig
from edge.uplink.outcomes import BadAnswer, Confirmed, Permanent, Retry
from edge.uplink.retry import parse_retry_after
from edge.uplink.targets.central_wire import batch_key, build_batch, read_batch_answer, status_outcome

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEY = b"r" * 32


def entry(n: int, payload: str | None = '{"a":1}', kind: str = "alert") -> ClaimedEntry:
    return ClaimedEntry(n, kind, TrafficClass.CRITICAL, f"d-{n}", f"idem-{n}", payload, None, 10, 1)


def signed(dedupe: str, sha: str) -> dict[str, object]:
    return {**central.sign_item(KEY, {"station": "ST-1", "kind": "alert", "dedupe_key": dedupe,
                                      "payload_sha256": sha, "receipt_id": "r", "received_at": "t"}, "c"),
            "status": "accepted", "index": 0}


def test_the_batch_key_depends_on_the_entries_not_their_order() -> None:
    assert batch_key([entry(1), entry(2)]) == batch_key([entry(2), entry(1)]) != batch_key([entry(1)])


def test_a_payload_that_is_not_an_object_is_dead_lettered_before_sending() -> None:
    batch = build_batch([entry(1, payload="[1, 2]"), entry(2)])
    assert isinstance(batch.refused[1], Permanent) and batch.refused[1].reason == "uplink.bad_payload"
    assert [i["dedupe_key"] for i in json.loads(batch.body)["items"]] == ["d-2"]


@pytest.mark.parametrize(("header", "seconds"), [
    ("120", 120.0), ("Sun, 01 Mar 2026 12:01:30 GMT", 90.0), ("Sun, 01 Mar 2026 11:00:00 GMT", 0.0),
    ("soon", None), ("", None), (None, None),
])
def test_retry_after_in_seconds_or_as_an_http_date(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


def test_429_carries_its_retry_after_and_a_401_blocks() -> None:
    limited = status_outcome(429, {"Retry-After": "7"}, None, NOW)
    assert isinstance(limited, Retry) and limited.after_s == 7 and limited.reason == "http.429"
    assert status_outcome(401, {}, {"type": "urn:central:problem:unauthorized"}, NOW).reason == "http.401.unauthorized"
    assert isinstance(status_outcome(302, {}, None, NOW), BadAnswer)


def test_an_answer_missing_a_receipt_or_for_another_batch_is_a_bad_answer() -> None:
    batch = build_batch([entry(1), entry(2)])
    sha = batch.sent["d-1"].payload_sha256
    body = json.dumps({"idempotency_key": batch.key, "receipts": [signed("d-1", sha)]}).encode()
    result = read_batch_answer(batch, key=KEY, station="ST-1", status=200, headers={}, body=body, now=NOW)
    assert isinstance(result.outcomes[1], Confirmed)
    assert isinstance(result.outcomes[2], BadAnswer) and result.outcomes[2].reason == "answer.missing_receipt"

    other = json.dumps({"idempotency_key": "batch-other", "receipts": [signed("d-1", sha)]}).encode()
    wrong = read_batch_answer(batch, key=KEY, station="ST-1", status=200, headers={}, body=other, now=NOW)
    assert {o.reason for o in wrong.outcomes.values() if isinstance(o, BadAnswer)} == {"answer.wrong_batch"}
    shapeless = read_batch_answer(batch, key=KEY, station="ST-1", status=200, headers={}, body=b"[]", now=NOW)
    assert {o.reason for o in shapeless.outcomes.values() if isinstance(o, BadAnswer)} == {"answer.malformed"}


def test_a_receipt_for_another_payload_asks_for_a_resend() -> None:
    batch = build_batch([entry(1)])
    body = json.dumps({"idempotency_key": batch.key, "receipts": [signed("d-1", "0" * 64)]}).encode()
    result = read_batch_answer(batch, key=KEY, station="ST-1", status=200, headers={}, body=body, now=NOW)
    assert result.outcomes[1].reason == "receipt.hash_mismatch"  # type: ignore[union-attr]


def files(tmp_path: Path, api: bytes = b"key-1\n", receipt: bytes = b"r" * 32) -> dict[str, Path]:
    (tmp_path / "api").write_bytes(api)
    (tmp_path / "receipt").write_bytes(receipt)
    return {"api_key_file": tmp_path / "api", "receipt_key_file": tmp_path / "receipt"}


@pytest.mark.parametrize(("api", "receipt", "key"), [
    (b"", b"r" * 32, "api_key_file"), (b"two words", b"r" * 32, "api_key_file"),
    (b"key-1", b"short", "receipt_key_file"), (b"key-1", b"  \n", "receipt_key_file"),
])
def test_bad_secret_files_name_their_key(tmp_path: Path, api: bytes, receipt: bytes, key: str) -> None:
    with pytest.raises(CentralAccessError) as caught:
        load_access(CentralConfig(url="http://127.0.0.1:1", **files(tmp_path, api, receipt)))
    assert caught.value.key == key


def test_a_missing_secret_file_names_its_key(tmp_path: Path) -> None:
    paths = files(tmp_path)
    paths["receipt_key_file"].unlink()
    with pytest.raises(CentralAccessError, match="receipt_key_file: cannot read"):
        load_access(CentralConfig(url="http://127.0.0.1:1", **paths))


def test_the_secrets_never_show_in_the_access_repr(tmp_path: Path) -> None:
    access = load_access(CentralConfig(url="http://127.0.0.1:1", **files(tmp_path, b"sekrit-api-key")))
    assert "sekrit" not in repr(access) and access.api_key == "sekrit-api-key"


@given(st.permutations(list(range(1, 8))), st.integers(1, 7))
def test_the_same_entries_in_any_order_give_the_same_key_and_body(order: list[int], size: int) -> None:
    chosen = sorted(order[:size])
    reference = build_batch([entry(n) for n in chosen])
    shuffled = build_batch([entry(n) for n in order[:size]])
    assert (shuffled.key, shuffled.body) == (reference.key, reference.body)
