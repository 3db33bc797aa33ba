"""The custody log: append-only and hash-chained.

Each entry's hash is SHA-256 over the previous entry's hash and the canonical JSON of the entry
(seq, time, actor, action, subject, reason, details). Triggers make SQLite refuse UPDATE and DELETE;
``verify`` walks the chain and names the first entry that does not check out, which catches edits made
after someone dropped the triggers. Removing entries from the very end is only visible against an
outside anchor: the head hash the uplink sends to the central platform.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge.store.canonical import canonical_json
from edge.store.queries import Queries, Tx
from edge.timeutil import to_iso, utcnow

GENESIS = "0" * 64
_GUARDS = ("custody_log_no_update", "custody_log_no_delete")


@dataclass(frozen=True, slots=True)
class CustodyEntry:
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    reason: str
    details: Mapping[str, Any]
    prev_hash: str
    hash: str


def entry_hash(prev_hash: str, body: Mapping[str, Any]) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical_json(body)}".encode()).hexdigest()


def append(
    tx: Tx,
    *,
    actor: str,
    action: str,
    subject: str,
    reason: str,
    details: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> CustodyEntry:
    """Append one entry in the caller's transaction (so it commits with the change it records)."""
    for name, value in (("actor", actor), ("action", action), ("subject", subject), ("reason", reason)):
        if not value:
            raise ValueError(f"custody entry needs a non-empty {name}")
    head = tx.one("SELECT seq, hash FROM custody_log ORDER BY seq DESC LIMIT 1")
    seq = 1 if head is None else head["seq"] + 1
    prev = GENESIS if head is None else head["hash"]
    stamp = to_iso(at or utcnow())
    details_dict = dict(details or {})
    body: dict[str, Any] = {
        "seq": seq,
        "at": stamp,
        "actor": actor,
        "action": action,
        "subject": subject,
        "reason": reason,
        "details": details_dict,
    }
    digest = entry_hash(prev, body)
    tx.execute(
        "INSERT INTO custody_log (seq, at, actor, action, subject, reason, details, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, stamp, actor, action, subject, reason, canonical_json(details_dict), prev, digest),
    )
    return CustodyEntry(seq, stamp, actor, action, subject, reason, details_dict, prev, digest)


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    entries: int
    head_hash: str
    broken_seq: int | None = None
    problem: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"custody log intact: {self.entries} entries, head {self.head_hash}"
        where = f"entry {self.broken_seq}" if self.broken_seq is not None else "the log"
        return f"custody log BROKEN at {where}: {self.problem} ({self.entries} entries checked before it)"


def verify(q: Queries) -> Verification:
    """Walk the whole chain in order; stop at and name the first entry that fails."""
    guards = {r["name"] for r in q.all("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    missing = [g for g in _GUARDS if g not in guards]
    prev, expected_seq, checked = GENESIS, 1, 0
    for row in q.iterate("SELECT * FROM custody_log ORDER BY seq"):
        seq = row["seq"]
        if seq != expected_seq:
            return Verification(False, checked, prev, expected_seq, f"entry {expected_seq} is missing")
        if row["prev_hash"] != prev:
            return Verification(False, checked, prev, seq, "previous-hash link does not match")
        try:
            details = json.loads(row["details"])
        except (TypeError, ValueError):
            return Verification(False, checked, prev, seq, "details are not valid JSON")
        body = {k: row[k] for k in ("seq", "at", "actor", "action", "subject", "reason")}
        body["details"] = details
        if entry_hash(prev, body) != row["hash"]:
            return Verification(False, checked, prev, seq, "content does not match its hash (altered)")
        prev, expected_seq, checked = row["hash"], seq + 1, checked + 1
    if missing:
        return Verification(False, checked, prev, None, f"append-only guard trigger(s) removed: {missing}")
    return Verification(True, checked, prev)


def history(q: Queries, subject: str) -> list[CustodyEntry]:
    rows = q.all("SELECT * FROM custody_log WHERE subject = ? ORDER BY seq", (subject,))
    return [
        CustodyEntry(
            r["seq"], r["at"], r["actor"], r["action"], r["subject"], r["reason"],
            json.loads(r["details"]), r["prev_hash"], r["hash"],
        )
        for r in rows
    ]
