"""Verification of the central platform's receipts, sans-I/O.

A receipt is believed only when (docs/simulators.md, "Receipt signatures"): it is well formed; its HMAC-SHA-256
under the configured receipt key, over the message rebuilt from its own fields, matches (constant-time); it
names this station; it names an item we sent; and its hash (and, for a file, size) is ours. Each failure is
its own error with a machine-readable ``reason``, so the drain can tell a forgery (bad signature) from a
confused answer (unknown item) from a platform that holds other bytes (mismatch: send again, alert).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge.store.canonical import canonical_json

ALGORITHM = "HMAC-SHA256"
ITEM_RECEIPT_V1 = "station-edge-item-receipt-v1"
FILE_RECEIPT_V1 = "station-edge-file-receipt-v1"
ITEM_FIELDS = ("station", "kind", "dedupe_key", "payload_sha256", "receipt_id", "received_at")
FILE_FIELDS = ("station", "dedupe_key", "bucket", "key", "size", "sha256", "received_at")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class ReceiptError(Exception):
    """A receipt that does not confirm anything; ``reason`` is a failure code for logs, metrics, dead letters."""

    reason = "receipt.invalid"

    def __init__(self, detail: str, *, dedupe_key: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.dedupe_key = dedupe_key  # the item it names, when it names one


class MalformedReceipt(ReceiptError):
    reason = "receipt.malformed"


class BadSignature(ReceiptError):
    """Not signed with our receipt key (or altered after signing): proves nothing."""

    reason = "receipt.bad_signature"


class WrongStation(ReceiptError):
    reason = "receipt.wrong_station"


class UnknownItem(ReceiptError):
    """Validly signed, but for an item we did not send in this request."""

    reason = "receipt.unknown_item"


class ReceiptMismatch(ReceiptError):
    """The platform holds other bytes than ours under this item: send it again, and alert."""

    def __init__(self, detail: str, *, dedupe_key: str, field: str, ours: object, theirs: object) -> None:
        super().__init__(detail, dedupe_key=dedupe_key)
        self.field, self.ours, self.theirs = field, ours, theirs
        self.reason = f"receipt.{field}_mismatch"


@dataclass(frozen=True, slots=True)
class SentItem:
    kind: str  # the central platform's kind (alert, case_link, ...)
    dedupe_key: str
    payload_sha256: str


@dataclass(frozen=True, slots=True)
class SentFile:
    dedupe_key: str
    bucket: str
    key: str
    size: int
    sha256: str


def payload_sha256(payload: Any) -> str:
    """SHA-256 of the payload's canonical JSON (sorted keys, no spaces, UTF-8): what an item receipt names."""
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def signed_message(version: str, fields: tuple[str, ...], receipt: Mapping[str, Any]) -> bytes:
    """The version line, then each field's value on its own line (LF, none trailing), UTF-8."""
    return "\n".join([version, *(str(receipt[name]) for name in fields)]).encode("utf-8")


def _well_formed(receipt: Any, fields: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(receipt, Mapping):
        raise MalformedReceipt(f"a receipt must be a JSON object, not {type(receipt).__name__}")
    named = receipt.get("dedupe_key") if isinstance(receipt.get("dedupe_key"), str) else None
    missing = [name for name in (*fields, "alg", "signature") if name not in receipt]
    if missing:
        raise MalformedReceipt(f"the receipt lacks {', '.join(missing)}", dedupe_key=named)
    for name in fields:
        value = receipt[name]
        if name == "size":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise MalformedReceipt("the receipt's size is not a byte count", dedupe_key=named)
        elif not isinstance(value, str) or "\n" in value:
            raise MalformedReceipt(f"the receipt's {name} is not a single-line string", dedupe_key=named)
    if receipt["alg"] != ALGORITHM:
        raise MalformedReceipt(f"unsupported receipt algorithm {receipt['alg']!r} (expected {ALGORITHM})",
                               dedupe_key=named)
    if not isinstance(receipt["signature"], str) or not _HEX64.fullmatch(receipt["signature"]):
        raise MalformedReceipt("the receipt's signature is not 64 lower-case hex digits", dedupe_key=named)
    return receipt


def _check_signature(key: bytes, version: str, fields: tuple[str, ...], receipt: Mapping[str, Any]) -> None:
    expected = hmac.new(key, signed_message(version, fields, receipt), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, receipt["signature"]):
        raise BadSignature("the receipt's HMAC does not match under our receipt key",
                           dedupe_key=receipt["dedupe_key"])


def _check_station(receipt: Mapping[str, Any], station: str) -> None:
    if receipt["station"] != station:
        raise WrongStation(f"the receipt names station {receipt['station']!r}, not {station!r}",
                           dedupe_key=receipt["dedupe_key"])


def verify_item(key: bytes, receipt: Any, *, station: str, sent: Mapping[str, SentItem]) -> SentItem:
    """The sent item (by dedupe key) this receipt confirms, or the first reason it confirms nothing."""
    checked = _well_formed(receipt, ITEM_FIELDS)
    _check_signature(key, ITEM_RECEIPT_V1, ITEM_FIELDS, checked)
    _check_station(checked, station)
    dedupe_key = checked["dedupe_key"]
    item = sent.get(dedupe_key)
    if item is None:
        raise UnknownItem(f"a receipt for {dedupe_key!r}, which this request did not carry", dedupe_key=dedupe_key)
    if checked["kind"] != item.kind:
        raise ReceiptMismatch(f"the receipt is for a {checked['kind']!r}, we sent a {item.kind!r}",
                              dedupe_key=dedupe_key, field="kind", ours=item.kind, theirs=checked["kind"])
    if checked["payload_sha256"] != item.payload_sha256:
        raise ReceiptMismatch("the platform holds another payload under this dedupe key", dedupe_key=dedupe_key,
                              field="hash", ours=item.payload_sha256, theirs=checked["payload_sha256"])
    return item


def verify_file(key: bytes, receipt: Any, *, station: str, sent: SentFile) -> None:
    """Returns if the receipt proves the platform holds our file (same SHA-256 and size); raises otherwise."""
    checked = _well_formed(receipt, FILE_FIELDS)
    _check_signature(key, FILE_RECEIPT_V1, FILE_FIELDS, checked)
    _check_station(checked, station)
    named = (checked["dedupe_key"], checked["bucket"], checked["key"])
    if named != (sent.dedupe_key, sent.bucket, sent.key):
        raise UnknownItem(f"a receipt for {named[1]}/{named[2]} ({named[0]!r}), not the file we sent "
                          f"({sent.bucket}/{sent.key})", dedupe_key=checked["dedupe_key"])
    if checked["size"] != sent.size:
        raise ReceiptMismatch(f"the platform holds {checked['size']} bytes, we sent {sent.size}",
                              dedupe_key=sent.dedupe_key, field="size", ours=sent.size, theirs=checked["size"])
    if not hmac.compare_digest(str(checked["sha256"]), sent.sha256):
        raise ReceiptMismatch("the platform's SHA-256 of the object is not ours", dedupe_key=sent.dedupe_key,
                              field="hash", ours=sent.sha256, theirs=checked["sha256"])
