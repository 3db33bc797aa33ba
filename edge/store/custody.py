"""The custody log: append-only and hash-chained.

Each entry's hash is SHA-256 over the previous entry's hash and the canonical JSON of the entry
(seq, time, actor, action, subject, reason, details). Triggers make SQLite refuse UPDATE, DELETE and
every insert that does not extend the head (so REPLACE and upserts too; migrations 0001, 0003).
``verify`` walks the chain through every signed checkpoint (edge/custody/chain.py) and names the first
entry that does not check out, which catches edits made after someone dropped the triggers, then
checks the triggers' SQL. Removing entries from the end is visible up to the last checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from edge.custody.chain import GENESIS, ChainEntry, Verification, entry_hash, walk
from edge.store import checkpoints, custody_guards
from edge.store.canonical import canonical_json
from edge.store.queries import Queries, Tx
from edge.timeutil import to_iso, utcnow

__all__ = ["GENESIS", "CustodyEntry", "Verification", "append", "entries", "entry_hash", "history", "verify"]


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


def entries(q: Queries, *, up_to: int | None = None) -> Iterator[ChainEntry]:
    """Every entry in seq order, as the chain walk reads them (also what a bundle exports)."""
    sql = "SELECT seq, at, actor, action, subject, reason, details, prev_hash, hash FROM custody_log"
    params: tuple[int, ...] = ()
    if up_to is not None:
        sql, params = sql + " WHERE seq <= ?", (up_to,)
    return map(ChainEntry._make, q.tuples(sql + " ORDER BY seq", params))


def verify(q: Queries, *, public_key: str | None = None,
           progress: Callable[[int], None] | None = None) -> Verification:
    """Walk the whole chain in order through every signed checkpoint, then check the guard triggers.

    ``public_key`` (base64, raw) is the station key the checkpoints must be signed with; without it
    they are checked against the key they name, and the result says the key was not pinned.
    """
    if q.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'custody_log'") is None:
        return Verification(False, 0, GENESIS, None, "the custody_log table is missing")
    result = walk(entries(q), checkpoints.all_checkpoints(q), trusted_key=public_key, progress=progress)
    if not result.ok:
        return result
    guard_problems = custody_guards.problems(q)
    if guard_problems:
        return replace(result, ok=False, problem="append-only guards weakened: " + "; ".join(guard_problems))
    return result


def history(q: Queries, subject: str) -> list[CustodyEntry]:
    rows = q.all("SELECT * FROM custody_log WHERE subject = ? ORDER BY seq", (subject,))
    return [
        CustodyEntry(
            r["seq"], r["at"], r["actor"], r["action"], r["subject"], r["reason"],
            json.loads(r["details"]), r["prev_hash"], r["hash"],
        )
        for r in rows
    ]
