"""Parsing of what stations send to the central ingest API, sans-I/O: each refusal a specific problem."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

PROBLEM_BASE = "urn:central:problem:"
# What the station's uplink sends as JSON items (footage goes by S3 multipart plus a manifest instead).
ITEM_KINDS = ("alert", "sos", "event", "case_link", "custody_checkpoint", "kiosk_record", "telemetry",
              "device_status")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_TOKEN_MAX = 200


class Problem(Exception):
    """An RFC 9457 problem answer: ``urn:central:problem:<slug>``."""

    def __init__(self, status: int, slug: str, detail: str, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail = status, slug, detail
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"type": PROBLEM_BASE + self.slug, "title": self.slug.replace("-", " ").capitalize(),
                "status": self.status, "detail": self.detail, **self.extra}


@dataclass(frozen=True, slots=True)
class Item:
    kind: str
    dedupe_key: str
    payload: Any


@dataclass(frozen=True, slots=True)
class Manifest:
    station: str
    dedupe_key: str
    bucket: str
    key: str
    size: int
    sha256: str


def _token(value: Any, name: str, slug: str, **where: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > _TOKEN_MAX or any(c in value for c in "\r\n"):
        raise Problem(422, slug, f"{name} must be a non-empty string of at most {_TOKEN_MAX} characters "
                      "without line breaks", field=name, **where)
    return value


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Problem(400, "malformed-json", f"the body is not UTF-8 JSON: {exc}") from exc


def idempotency_key(header: str | None) -> str:
    if header is None:
        raise Problem(400, "idempotency-key-missing", "a batch needs an Idempotency-Key header")
    return _token(header, "Idempotency-Key", "idempotency-key-invalid")


def parse_batch(document: Any, *, max_items: int) -> list[Item]:
    """``{"items": [{"kind", "dedupe_key", "payload"}, ...]}``; all or nothing: one bad item refuses the batch."""
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise Problem(422, "invalid-batch", 'a batch is a JSON object {"items": [...]}')
    entries = document["items"]
    if not entries:
        raise Problem(422, "invalid-batch", "a batch needs at least one item")
    if len(entries) > max_items:
        raise Problem(413, "batch-too-large", f"{len(entries)} items; at most {max_items} per batch",
                      max_items=max_items)
    items, seen = [], set()
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) != {"kind", "dedupe_key", "payload"}:
            raise Problem(422, "invalid-item", "an item is exactly {kind, dedupe_key, payload}", index=index)
        kind = entry["kind"]
        if kind not in ITEM_KINDS:
            raise Problem(422, "unknown-kind", f"unknown item kind {str(kind)[:40]!r}", index=index,
                          known=list(ITEM_KINDS))
        key = _token(entry["dedupe_key"], "dedupe_key", "invalid-item", index=index)
        if key in seen:
            raise Problem(422, "duplicate-item", "the same dedupe_key twice in one batch", index=index)
        if not isinstance(entry["payload"], dict):
            raise Problem(422, "invalid-item", "payload must be a JSON object", index=index, field="payload")
        seen.add(key)
        items.append(Item(kind, key, entry["payload"]))
    return items


def parse_manifest(document: Any) -> Manifest:
    """``{"station", "dedupe_key", "bucket", "key", "size", "sha256"}`` of a completed S3 upload."""
    fields = ("station", "dedupe_key", "bucket", "key", "size", "sha256")
    if not isinstance(document, dict) or set(document) != set(fields):
        raise Problem(422, "invalid-manifest", f"a manifest is exactly {{{', '.join(fields)}}}")
    size = document["size"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise Problem(422, "invalid-manifest", "size must be a non-negative integer", field="size")
    sha = document["sha256"]
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise Problem(422, "invalid-manifest", "sha256 must be 64 lower-case hex digits", field="sha256")
    station, dedupe_key, bucket, key = (_token(document[name], name, "invalid-manifest") for name in fields[:4])
    return Manifest(station, dedupe_key, bucket, key, size, sha)
