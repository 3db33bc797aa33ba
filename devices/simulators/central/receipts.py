"""Receipts the central platform signs, sans-I/O: the exact signed messages (docs/simulators.md) and HMAC.

A station verifies a receipt by rebuilding the same message from the receipt's own fields and comparing the
HMAC-SHA-256 under the shared receipt key in constant time, then comparing ``sha256`` with its own hash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

ALGORITHM = "HMAC-SHA256"
FILE_RECEIPT_V1 = "station-edge-file-receipt-v1"
ITEM_RECEIPT_V1 = "station-edge-item-receipt-v1"
FILE_FIELDS = ("station", "dedupe_key", "bucket", "key", "size", "sha256", "received_at")
ITEM_FIELDS = ("station", "kind", "dedupe_key", "payload_sha256", "receipt_id", "received_at")


def payload_digest(payload: Any) -> str:
    """SHA-256 of the canonical JSON of an item's payload: sorted keys, no spaces, UTF-8, non-ASCII kept."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def message(version: str, fields: tuple[str, ...], receipt: dict[str, Any]) -> bytes:
    """``version`` then each field's value, one per line (LF, no trailing LF), UTF-8; integers in decimal."""
    values = [str(receipt[name]) for name in fields]
    if any("\n" in value for value in values):
        raise ValueError("a receipt field contains a line feed")
    return "\n".join([version, *values]).encode("utf-8")


def sign(key: bytes, version: str, fields: tuple[str, ...], receipt: dict[str, Any], key_id: str) -> dict[str, Any]:
    """The receipt with ``alg``, ``key_id`` and ``signature`` (lower-case hex) added."""
    digest = hmac.new(key, message(version, fields, receipt), hashlib.sha256).hexdigest()
    return {**receipt, "alg": ALGORITHM, "key_id": key_id, "signature": digest}


def verify(key: bytes, version: str, fields: tuple[str, ...], receipt: dict[str, Any]) -> bool:
    """What the station does (and the tests check with): recompute and compare in constant time."""
    expected = hmac.new(key, message(version, fields, receipt), hashlib.sha256).hexdigest()
    return receipt.get("alg") == ALGORITHM and hmac.compare_digest(expected, str(receipt.get("signature", "")))


def sign_file(key: bytes, receipt: dict[str, Any], key_id: str) -> dict[str, Any]:
    return sign(key, FILE_RECEIPT_V1, FILE_FIELDS, receipt, key_id)


def sign_item(key: bytes, receipt: dict[str, Any], key_id: str) -> dict[str, Any]:
    return sign(key, ITEM_RECEIPT_V1, ITEM_FIELDS, receipt, key_id)
