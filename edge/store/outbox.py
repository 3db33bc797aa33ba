"""The outbox: what must reach the central platform, enqueued in the same transaction as its cause.

The uplink drains it by priority class; a dedupe key makes enqueueing idempotent, so a redelivered
MQTT message or a re-run job never queues the same thing twice.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.store.canonical import canonical_json
from edge.store.queries import Queries, Tx
from edge.timeutil import to_iso, utcnow


class Priority(enum.IntEnum):
    """Most urgent first; within a priority, oldest first. The uplink's classes follow from it
    (``edge.store.uplink_queue.TrafficClass``): 0 critical, 1 evidence, 2 kiosk (kinds ``kiosk.*``) or
    routine, 3 telemetry."""

    CRITICAL = 0  # SOS, alarms
    EVIDENCE = 1  # custody, case links, evidence-marked footage
    ROUTINE = 2  # routine footage and its metadata
    BULK = 3  # telemetry, statistics: shed first when the link is poor


@dataclass(frozen=True, slots=True)
class FileRef:
    path: Path
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    kind: str
    priority: Priority
    dedupe_key: str
    payload: Mapping[str, Any] | None = None
    file: FileRef | None = None

    def __post_init__(self) -> None:
        if (self.payload is None) == (self.file is None):
            raise ValueError("an outbox entry carries a payload or a file, exactly one")


_INSERT = (
    "INSERT INTO outbox (kind, priority, dedupe_key, payload, file_path, file_size, file_sha256, bytes,"
    " created_at, updated_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (dedupe_key) DO NOTHING"
)


def _row(entry: OutboxEntry, now: str) -> tuple[Any, ...]:
    file = entry.file
    payload = None if entry.payload is None else canonical_json(entry.payload)
    return (
        entry.kind,
        int(entry.priority),
        entry.dedupe_key,
        payload,
        None if file is None else str(file.path),
        None if file is None else file.size,
        None if file is None else file.sha256,
        file.size if file is not None else len((payload or "").encode()),  # what the uplink's budget is charged
        now,
        now,
        now,
    )


def enqueue(tx: Tx, entry: OutboxEntry, *, now: datetime | None = None) -> bool:
    """Queue one entry; False when its dedupe key was already queued (nothing changes then)."""
    return tx.execute(_INSERT, _row(entry, to_iso(now or utcnow()))).rowcount == 1


def enqueue_many(tx: Tx, entries: Iterable[OutboxEntry], *, now: datetime | None = None) -> int:
    """Queue many entries in one statement loop; returns how many were new."""
    stamp = to_iso(now or utcnow())
    return tx.executemany(_INSERT, (_row(entry, stamp) for entry in entries))


def promote(tx: Tx, dedupe_key: str, priority: Priority) -> bool:
    """Raise a queued entry's priority (e.g. footage that became evidence), which moves it to that class;
    never lowers it, never touches what was already confirmed. Evidence and critical entries never expire,
    so a promotion to them drops any expiry."""
    return tx.execute("UPDATE outbox SET priority = ?, expires_at = CASE WHEN ? < 2 THEN NULL ELSE expires_at END"
                      " WHERE dedupe_key = ? AND priority > ? AND state != 'confirmed'",
                      (int(priority), int(priority), dedupe_key, int(priority))).rowcount == 1


def counts(q: Queries) -> dict[str, dict[str, int]]:
    """{state: {priority name: count}} for status pages and metrics."""
    result: dict[str, dict[str, int]] = {}
    for row in q.iterate("SELECT state, priority, COUNT(*) AS n FROM outbox GROUP BY state, priority"):
        result.setdefault(row["state"], {})[Priority(row["priority"]).name.lower()] = row["n"]
    return result


# -- receipts from the central platform -----------------------------------------------------------

_SHA256 = re.compile(r"[0-9a-f]{64}")  # fullmatch: "$" would let a trailing newline through


class ReceiptRefused(ValueError):
    """A receipt that cannot confirm the entry it names; the message says why. Nothing was changed."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """The central platform's word that it stored a file: what it computed over the bytes it holds."""

    sha256: str  # SHA-256 the central platform computed over the stored object
    reference: str  # its id for the stored object (object key, version), quoted in custody entries
    received_at: str  # its own time of receipt (ISO 8601)


def confirm(tx: Tx, dedupe_key: str, receipt: Receipt, *, now: datetime | None = None) -> bool:
    """Record the central platform's receipt for a file entry and mark it confirmed.

    Refused (``ReceiptRefused``) unless the entry exists, carries a file, and the receipt's SHA-256 is the
    file's: a receipt for other bytes confirms nothing. True when this receipt confirmed the entry, False
    when it was already confirmed (the first receipt is kept; a redelivered one changes nothing). A receipt
    ends whatever state the entry was in: its lease, its failure reason.
    """
    row = tx.one("SELECT state, file_sha256 FROM outbox WHERE dedupe_key = ?", (dedupe_key,))
    if row is None:
        raise ReceiptRefused(f"no outbox entry {dedupe_key!r}")
    if row["file_sha256"] is None:
        raise ReceiptRefused(f"outbox entry {dedupe_key!r} carries no file; only files are confirmed by receipt")
    sha = receipt.sha256.strip().lower()
    if not _SHA256.fullmatch(sha):
        raise ReceiptRefused("the receipt's sha256 is not 64 hex digits")
    if sha != row["file_sha256"]:
        raise ReceiptRefused(f"the receipt's sha256 {sha} is not the file's {row['file_sha256']}")
    if not receipt.reference.strip() or not receipt.received_at.strip():
        raise ReceiptRefused("the receipt needs the central platform's reference and time of receipt")
    if row["state"] == "confirmed":
        return False
    body = {"sha256": sha, "reference": receipt.reference.strip(), "received_at": receipt.received_at.strip()}
    tx.execute("UPDATE outbox SET state = 'confirmed', receipt = ?, updated_at = ?, last_error = NULL,"
               " failed_reason = NULL, lease_owner = NULL, leased_at = NULL"
               " WHERE dedupe_key = ?", (canonical_json(body), to_iso(now or utcnow()), dedupe_key))
    return True


def rearm_file(tx: Tx, entry: OutboxEntry, *, now: datetime | None = None) -> bool:
    """Queue a confirmed file entry again: the same bytes were ingested anew (a new footage row after the old
    one was deleted), and the old receipt confirms nothing about the new row. True if it was re-armed. The
    entry's next generation gets a new idempotency key: the receiver must not answer it with the old receipt."""
    if entry.file is None:
        raise ValueError("only file entries are re-armed")
    stamp = to_iso(now or utcnow())
    return tx.execute(
        "UPDATE outbox SET state = 'pending', receipt = NULL, attempts = 0, last_error = NULL,"
        " priority = min(priority, ?), file_path = ?, updated_at = ?, next_attempt_at = ?,"
        " idempotency_key = NULL, generation = generation + 1, expires_at = NULL"
        " WHERE dedupe_key = ? AND state = 'confirmed'",
        (int(entry.priority), str(entry.file.path), stamp, stamp, entry.dedupe_key)).rowcount == 1
