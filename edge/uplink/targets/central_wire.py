"""The central ingest API's wire format, sans-I/O: batch bodies from claimed outbox entries, the batch's
Idempotency-Key, and what an answer (status, headers, body) means for each entry (edge/uplink/outcomes.py).
Format: docs/simulators.md, "Central platform"."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge.store.uplink_queue import ClaimedEntry
from edge.uplink import receipts
from edge.uplink.outcomes import (
    Anomaly,
    BadAnswer,
    BatchResult,
    Blocked,
    Confirmed,
    Outcome,
    Pause,
    Permanent,
    Resend,
    Retry,
)
from edge.uplink.retry import parse_retry_after

# Outbox kind -> the platform's item kind. A kind not here is not sent (dead-lettered), never guessed.
ITEM_KINDS = {
    "alert": "alert",
    "sos": "sos",
    "event": "event",
    "case.link": "case_link",
    "case.local": "event",  # a station-opened case: an event for the centre until it has a case kind
    "custody.checkpoint": "custody_checkpoint",
    "telemetry": "telemetry",
    "device.status": "device_status",
}
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_NOT_CODE = re.compile(r"[^a-z0-9_.]")


def central_kind(kind: str) -> str | None:
    return "kiosk_record" if kind.startswith("kiosk.") else ITEM_KINDS.get(kind)


def batch_key(entries: Sequence[ClaimedEntry]) -> str:
    """Derived from the entries' own idempotency keys, order-free: the same entries give the same key on
    every retry and after a restart, so the platform answers a resend from its store."""
    joined = "\n".join(sorted(entry.idempotency_key for entry in entries))
    return "batch-" + hashlib.sha256(joined.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Batch:
    key: str
    body: bytes  # UTF-8 JSON {"items": [...]}
    sent: dict[str, receipts.SentItem]  # dedupe key -> what a receipt must name
    ids: dict[str, int]  # dedupe key -> outbox entry id
    refused: dict[int, Outcome]  # entries that cannot go at all (unmapped kind, bad payload)


def build_batch(entries: Sequence[ClaimedEntry]) -> Batch:
    if any(entry.file is not None for entry in entries):
        raise ValueError("file entries go by S3 and a manifest, not in a JSON batch")
    items: list[dict[str, Any]] = []
    sent: dict[str, receipts.SentItem] = {}
    ids: dict[str, int] = {}
    refused: dict[int, Outcome] = {}
    # In key order, like the batch key: a resend of the same entries is the same body, whatever their order.
    for entry in sorted(entries, key=lambda e: e.idempotency_key):
        kind = central_kind(entry.kind)
        if kind is None:
            refused[entry.id] = Permanent("uplink.unmapped_kind", f"the central platform takes no {entry.kind!r}")
            continue
        try:
            payload = json.loads(entry.payload or "")
        except json.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            refused[entry.id] = Permanent("uplink.bad_payload", "the queued payload is not a JSON object")
            continue
        items.append({"kind": kind, "dedupe_key": entry.dedupe_key, "payload": payload})
        sent[entry.dedupe_key] = receipts.SentItem(kind, entry.dedupe_key, receipts.payload_sha256(payload))
        ids[entry.dedupe_key] = entry.id
    body = json.dumps({"items": items}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Batch(batch_key(entries), body, sent, ids, refused)


def code(text: str) -> str:
    """A problem slug or kind as a failure code fragment (``idempotency-key-reused`` -> ``..._key_reused``)."""
    return _NOT_CODE.sub("_", text.lower())[:40]


def problem_slug(document: Any) -> str | None:
    kind = document.get("type") if isinstance(document, dict) else None
    return kind.rsplit(":", 1)[-1] if isinstance(kind, str) and kind else None


def _detail(document: Any, status: int) -> str:
    detail = document.get("detail") if isinstance(document, dict) else None
    return f"HTTP {status}: {detail}" if isinstance(detail, str) else f"HTTP {status}"


def status_outcome(status: int, headers: Mapping[str, str], document: Any, now: datetime) -> Outcome:
    """What a non-200 answer means for the whole request (before any per-item reading)."""
    slug = problem_slug(document)
    reason = f"http.{status}" + (f".{code(slug)}" if slug else "")
    detail = _detail(document, status)
    if status in (429, 503):
        return Retry(reason, detail, parse_retry_after(headers.get("Retry-After"), now))
    if status == 507:
        return Pause(reason, detail)
    if status in RETRY_STATUSES or status >= 500:
        return Retry(reason, detail)
    if status in (401, 403):  # our key or station is refused: nothing will go until the config is fixed
        return Blocked(reason, detail)
    if 400 <= status < 500:
        return Permanent(reason, detail)
    return BadAnswer("answer.unexpected_status", f"HTTP {status} where 200 or a problem was expected")


def parse_document(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def _all(batch: Batch, outcome: Outcome) -> dict[int, Outcome]:
    return {**dict.fromkeys(batch.ids.values(), outcome), **batch.refused}


def _item_refusal(batch: Batch, status: int, document: dict[str, Any]) -> dict[int, Outcome] | None:
    """A 422 naming one item (``index``): that entry is dead-lettered; the batch was refused whole, so the
    others go again at once, without it."""
    index = document.get("index")
    items = list(batch.ids.items())
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(items):
        return None
    outcomes: dict[int, Outcome] = {entry_id: Retry("http.422.batch_refused", "refused with another item", 0.0)
                                    for _, entry_id in items}
    slug = problem_slug(document) or "invalid_item"
    outcomes[items[index][1]] = Permanent(f"http.{status}.{code(slug)}", _detail(document, status))
    return {**outcomes, **batch.refused}


def read_batch_answer(batch: Batch, *, key: bytes, station: str, status: int, headers: Mapping[str, str],
                      body: bytes, now: datetime) -> BatchResult:
    document = parse_document(body)
    replayed = headers.get("Idempotent-Replayed", "").lower() == "true"
    if status != 200:
        if status == 422 and isinstance(document, dict):
            one = _item_refusal(batch, status, document)
            if one is not None:
                return BatchResult(one)
        return BatchResult(_all(batch, status_outcome(status, headers, document, now)))
    if document is None:
        return BatchResult(_all(batch, BadAnswer("answer.not_json", "HTTP 200 whose body is not JSON")))
    found = document.get("receipts") if isinstance(document, dict) else None
    if not isinstance(found, list):
        return BatchResult(_all(batch, BadAnswer("answer.malformed", 'HTTP 200 without a "receipts" list')))
    if document.get("idempotency_key") != batch.key:
        return BatchResult(_all(batch, BadAnswer("answer.wrong_batch", "the answer names another Idempotency-Key")))
    outcomes: dict[int, Outcome] = dict(batch.refused)
    anomalies: list[Anomaly] = []
    for receipt in found:
        status_word = receipt.get("status") if isinstance(receipt, dict) else None
        try:
            if status_word not in ("accepted", "duplicate"):
                raise receipts.MalformedReceipt(f"receipt status {status_word!r} (accepted or duplicate expected)")
            item = receipts.verify_item(key, receipt, station=station, sent=batch.sent)
        except receipts.ReceiptError as error:
            entry_id = batch.ids.get(error.dedupe_key or "")
            if entry_id is None:
                anomalies.append(Anomaly(error.reason, error.detail))
            elif isinstance(error, receipts.ReceiptMismatch):
                outcomes.setdefault(entry_id, Resend(error.reason, error.detail))
            else:
                outcomes.setdefault(entry_id, BadAnswer(error.reason, error.detail))
            continue
        stored = {k: v for k, v in receipt.items() if k != "index"}
        outcomes.setdefault(batch.ids[item.dedupe_key], Confirmed(stored, duplicate=status_word == "duplicate"))
    for dedupe_key, entry_id in batch.ids.items():
        outcomes.setdefault(entry_id, BadAnswer("answer.missing_receipt", f"no receipt for {dedupe_key!r}"))
    return BatchResult(outcomes, anomalies, replayed)


def manifest_body(station: str, sent: receipts.SentFile) -> bytes:
    return json.dumps({"station": station, "dedupe_key": sent.dedupe_key, "bucket": sent.bucket, "key": sent.key,
                       "size": sent.size, "sha256": sent.sha256}).encode("utf-8")


# A manifest refused because the store holds no or other bytes: upload again.
RESEND_SLUGS = frozenset({"object-missing", "object-size-mismatch", "object-hash-mismatch"})


def read_manifest_answer(sent: receipts.SentFile, *, key: bytes, station: str, status: int,
                         headers: Mapping[str, str], body: bytes, now: datetime) -> Outcome:
    document = parse_document(body)
    if status != 200:
        slug = problem_slug(document)
        if status == 422 and slug in RESEND_SLUGS:
            return Resend(f"http.422.{code(slug)}", _detail(document, status))
        return status_outcome(status, headers, document, now)
    if document is None:
        return BadAnswer("answer.not_json", "HTTP 200 whose body is not JSON")
    receipt = document.get("receipt") if isinstance(document, dict) else None
    try:
        receipts.verify_file(key, receipt, station=station, sent=sent)
    except receipts.ReceiptMismatch as error:
        return Resend(error.reason, error.detail)
    except receipts.ReceiptError as error:
        return BadAnswer(error.reason, error.detail)
    assert isinstance(receipt, dict)
    return Confirmed(receipt, duplicate=headers.get("Idempotent-Replayed", "").lower() == "true")
