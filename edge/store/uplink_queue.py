"""The uplink's side of the outbox: claim, the state transitions, lease recovery, expiry and per-class stats.

States: pending -> in_flight (claimed under a lease) -> sent (the target holds it) -> confirmed (a receipt), or
failed with a machine-readable reason. Every transition is one UPDATE in the caller's ``Store.write`` (durable,
synchronous=FULL, by default), so a SIGKILL at any point leaves each entry in exactly one state; an in_flight
entry whose process died is returned to pending by ``recover_leases`` when the next drain starts, and goes out
again with the same idempotency key, which is how the receiver knows it for a repeat.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.store.canonical import canonical_json
from edge.store.outbox import FileRef
from edge.store.queries import Queries, Tx
from edge.timeutil import from_iso, to_iso


class TrafficClass(enum.StrEnum):
    """The uplink's priority classes, highest first (the order of this enum is the drain order).

    Stored as the outbox's generated ``uplink_class`` column (migration 0006), from the entry's priority:
    0 critical, 1 evidence, 2 kiosk (kinds ``kiosk.*``) or routine, 3-9 telemetry.
    """

    CRITICAL = "critical"  # SOS, critical alerts
    EVIDENCE = "evidence"  # case links, custody checkpoints, held footage
    KIOSK = "kiosk"  # kiosk records
    ROUTINE = "routine"  # routine footage, warning alerts
    TELEMETRY = "telemetry"  # telemetry, statistics, info alerts: shed first


NEVER_EXPIRES = frozenset({TrafficClass.CRITICAL, TrafficClass.EVIDENCE})


class EntryState(enum.StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    SENT = "sent"
    CONFIRMED = "confirmed"
    FAILED = "failed"


class TransitionRefused(Exception):
    """The entry is not in a state that allows this step (or its lease is someone else's); nothing changed."""


_REASON = re.compile(r"^[a-z0-9][a-z0-9_.]{0,63}$")


@dataclass(frozen=True, slots=True)
class ClaimedEntry:
    id: int
    kind: str
    uplink_class: TrafficClass
    dedupe_key: str
    idempotency_key: str
    payload: str | None  # canonical JSON, exactly as queued
    file: FileRef | None
    bytes: int
    attempts: int  # including this one


@dataclass(frozen=True, slots=True)
class ClassStats:
    queued: int  # pending + in_flight: what still has to leave
    queued_bytes: int
    oldest_age_s: float | None  # age of the oldest queued entry
    in_flight: int
    sent: int  # delivered, awaiting a receipt
    failed: int


def idempotency_key(station_id: str, dedupe_key: str, generation: int) -> str:
    """Stable across retries and restarts; unique across stations (the central platform sees them all)."""
    return hashlib.sha256(f"{station_id}\n{dedupe_key}\n{generation}".encode()).hexdigest()


def claim(tx: Tx, uplink_class: TrafficClass, *, owner: str, station_id: str, now: datetime, limit: int = 1,
          max_bytes: int | None = None) -> list[ClaimedEntry]:
    """Lease up to ``limit`` due entries of one class, most urgent then oldest first, to ``owner``.

    ``max_bytes`` bounds a batch: entries are taken while the total stays within it, but the first is always
    taken (a file bigger than a batch goes alone). Expired entries are never claimed.
    """
    if limit < 1:
        raise ValueError("claim at least one entry")
    stamp = to_iso(now)
    rows = tx.all(
        "SELECT id, kind, uplink_class, dedupe_key, idempotency_key, generation, payload, file_path, file_size,"
        " file_sha256, bytes, attempts FROM outbox WHERE state = 'pending' AND uplink_class = ?"
        " AND next_attempt_at <= ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY priority, id LIMIT ?",
        (str(uplink_class), stamp, stamp, limit))
    taken: list[ClaimedEntry] = []
    total = 0
    for row in rows:
        if taken and max_bytes is not None and total + row["bytes"] > max_bytes:
            break
        total += row["bytes"]
        key = row["idempotency_key"] or idempotency_key(station_id, row["dedupe_key"], row["generation"])
        tx.execute("UPDATE outbox SET state = 'in_flight', lease_owner = ?, leased_at = ?, attempts = attempts + 1,"
                   " idempotency_key = ?, updated_at = ? WHERE id = ? AND state = 'pending'",
                   (owner, stamp, key, stamp, row["id"]))
        file = None if row["file_path"] is None else FileRef(Path(row["file_path"]), row["file_size"],
                                                             row["file_sha256"])
        taken.append(ClaimedEntry(row["id"], row["kind"], TrafficClass(row["uplink_class"]), row["dedupe_key"], key,
                                  row["payload"], file, row["bytes"], row["attempts"] + 1))
    return taken


def _leased(tx: Tx, entry_id: int, owner: str) -> dict[str, Any]:
    row = tx.one("SELECT state, lease_owner, file_path FROM outbox WHERE id = ?", (entry_id,))
    if row is None:
        raise TransitionRefused(f"no outbox entry {entry_id}")
    if row["state"] != EntryState.IN_FLIGHT or row["lease_owner"] != owner:
        raise TransitionRefused(f"outbox entry {entry_id} is {row['state']}"
                                f"{' under another lease' if row['state'] == EntryState.IN_FLIGHT else ''},"
                                f" not in flight under {owner!r}")
    return row


def mark_sent(tx: Tx, entry_id: int, *, owner: str, now: datetime) -> None:
    """The target holds the entry; a receipt is still to come. Only the lease holder may say so."""
    _leased(tx, entry_id, owner)
    tx.execute("UPDATE outbox SET state = 'sent', lease_owner = NULL, leased_at = NULL, last_error = NULL,"
               " updated_at = ? WHERE id = ?", (to_iso(now), entry_id))


def mark_confirmed(tx: Tx, entry_id: int, *, receipt: dict[str, Any], now: datetime) -> bool:
    """The central platform's receipt for a payload entry (in flight or sent). File entries are confirmed
    only by ``edge.store.outbox.confirm``, which checks the receipt's SHA-256 against the file's.
    False when it was confirmed already (the first receipt is kept)."""
    row = tx.one("SELECT state, file_path FROM outbox WHERE id = ?", (entry_id,))
    if row is None:
        raise TransitionRefused(f"no outbox entry {entry_id}")
    if row["file_path"] is not None:
        raise TransitionRefused(f"outbox entry {entry_id} carries a file: confirm it with its receipt's SHA-256")
    if row["state"] == EntryState.CONFIRMED:
        return False
    if row["state"] not in (EntryState.IN_FLIGHT, EntryState.SENT):
        raise TransitionRefused(f"outbox entry {entry_id} is {row['state']}; only a sent entry is confirmed")
    tx.execute("UPDATE outbox SET state = 'confirmed', receipt = ?, lease_owner = NULL, leased_at = NULL,"
               " last_error = NULL, updated_at = ? WHERE id = ?", (canonical_json(receipt), to_iso(now), entry_id))
    return True


def mark_failed(tx: Tx, entry_id: int, *, reason: str, detail: str, now: datetime) -> None:
    """Dead-letter an entry that will never go (a permanent 4xx, a file gone): kept with its reason."""
    if not _REASON.match(reason):
        raise ValueError(f"failure reason {reason!r} is not a code (lower case letters, digits, '_' and '.')")
    row = tx.one("SELECT state FROM outbox WHERE id = ?", (entry_id,))
    if row is None:
        raise TransitionRefused(f"no outbox entry {entry_id}")
    if row["state"] in (EntryState.CONFIRMED, EntryState.FAILED):
        raise TransitionRefused(f"outbox entry {entry_id} is {row['state']} already")
    tx.execute("UPDATE outbox SET state = 'failed', failed_reason = ?, last_error = ?, lease_owner = NULL,"
               " leased_at = NULL, updated_at = ? WHERE id = ?", (reason, detail, to_iso(now), entry_id))


def requeue(tx: Tx, entry_id: int, *, owner: str, error: str, retry_at: datetime, now: datetime) -> None:
    """A transient failure: back to pending, not claimed again before ``retry_at`` (the caller's backoff or
    the target's Retry-After)."""
    _leased(tx, entry_id, owner)
    tx.execute("UPDATE outbox SET state = 'pending', lease_owner = NULL, leased_at = NULL, last_error = ?,"
               " next_attempt_at = ?, updated_at = ? WHERE id = ?", (error, to_iso(retry_at), to_iso(now), entry_id))


def retry_failed(tx: Tx, entry_id: int, *, now: datetime) -> None:
    """An operator's retry of a dead-lettered entry: pending again, due now, attempts kept."""
    row = tx.one("SELECT state FROM outbox WHERE id = ?", (entry_id,))
    if row is None or row["state"] != EntryState.FAILED:
        raise TransitionRefused(f"outbox entry {entry_id} is {row['state'] if row else 'missing'}, not failed")
    stamp = to_iso(now)
    tx.execute("UPDATE outbox SET state = 'pending', failed_reason = NULL, expires_at = NULL, next_attempt_at = ?,"
               " updated_at = ? WHERE id = ?", (stamp, stamp, entry_id))


def recover_leases(tx: Tx, *, owner: str, now: datetime) -> int:
    """At a drain's start: every in_flight entry leased by anyone else (a process that died) is pending again,
    due now. Its idempotency key stays, so a resend is recognised. Returns how many came back."""
    stamp = to_iso(now)
    return tx.execute(
        "UPDATE outbox SET state = 'pending', last_error = 'lease of ' || lease_owner || ' recovered',"
        " lease_owner = NULL, leased_at = NULL, next_attempt_at = ?, updated_at = ?"
        " WHERE state = 'in_flight' AND lease_owner != ?", (stamp, stamp, owner)).rowcount


def set_ttl(tx: Tx, uplink_class: TrafficClass, ttl_s: float) -> int:
    """Give the class's pending entries without an expiry one, ``ttl_s`` after their creation. Refused for
    critical and evidence (the table's CHECK refuses it too). Returns how many were stamped."""
    if uplink_class in NEVER_EXPIRES:
        raise ValueError(f"{uplink_class} entries never expire")
    if ttl_s <= 0:
        raise ValueError("a TTL must be positive")
    # strftime keeps milliseconds; pad to the store's fixed-width microsecond form so text order is time order.
    return tx.execute(
        "UPDATE outbox SET expires_at = strftime('%Y-%m-%dT%H:%M:%f', created_at, ?) || '000Z'"
        " WHERE state = 'pending' AND uplink_class = ? AND expires_at IS NULL",
        (f"+{ttl_s:.3f} seconds", str(uplink_class))).rowcount


def expire(tx: Tx, *, now: datetime) -> int:
    """Pending entries past their expiry fail with reason ``expired``: counted and kept, never silently gone."""
    stamp = to_iso(now)
    return tx.execute("UPDATE outbox SET state = 'failed', failed_reason = 'expired', updated_at = ?"
                      " WHERE state = 'pending' AND expires_at IS NOT NULL AND expires_at <= ?",
                      (stamp, stamp)).rowcount


def due_heads(q: Queries, *, now: datetime) -> dict[TrafficClass, int]:
    """The size of the next claimable entry of each class that has one (the scheduler's backlog)."""
    stamp = to_iso(now)
    heads: dict[TrafficClass, int] = {}
    for klass in TrafficClass:
        size = q.scalar("SELECT bytes FROM outbox WHERE state = 'pending' AND uplink_class = ?"
                        " AND next_attempt_at <= ? AND (expires_at IS NULL OR expires_at > ?)"
                        " ORDER BY priority, id LIMIT 1", (str(klass), stamp, stamp))
        if size is not None:
            heads[klass] = size
    return heads


def stats(q: Queries, *, now: datetime) -> dict[TrafficClass, ClassStats]:
    """Per class: what is queued (count, bytes, oldest age), in flight, sent awaiting receipt, failed."""
    found = {row["uplink_class"]: row for row in q.iterate(
        "SELECT uplink_class,"
        " sum(state IN ('pending', 'in_flight')) AS queued,"
        " coalesce(sum(CASE WHEN state IN ('pending', 'in_flight') THEN bytes END), 0) AS queued_bytes,"
        " min(CASE WHEN state IN ('pending', 'in_flight') THEN created_at END) AS oldest,"
        " sum(state = 'in_flight') AS in_flight, sum(state = 'sent') AS sent, sum(state = 'failed') AS failed"
        " FROM outbox GROUP BY uplink_class")}
    result: dict[TrafficClass, ClassStats] = {}
    for klass in TrafficClass:
        row = found.get(str(klass))
        if row is None:
            result[klass] = ClassStats(0, 0, None, 0, 0, 0)
            continue
        oldest = None if row["oldest"] is None else max(0.0, (now - from_iso(row["oldest"])).total_seconds())
        result[klass] = ClassStats(row["queued"], row["queued_bytes"], oldest, row["in_flight"], row["sent"],
                                   row["failed"])
    return result
