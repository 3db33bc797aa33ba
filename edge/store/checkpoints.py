"""SQL for signed custody checkpoints (table ``custody_checkpoint``, migration 0004).

Signing happens in the caller's callback, inside the write transaction that reads the head, so the
checkpoint names exactly the head it was taken of; the outbox row commits with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from edge.custody.chain import Checkpoint
from edge.store import outbox
from edge.store.queries import Queries, Tx

OUTBOX_KIND = "custody.checkpoint"
# The uplink's classes: critical 0 (SOS, alarms), evidence 1. A checkpoint is evidence of the log.
OUTBOX_PRIORITY = outbox.Priority.EVIDENCE


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    hash: str


# (seq, hash) of the head -> the signed checkpoint for it
Signer = Callable[[Head], Checkpoint]


def head(q: Queries) -> Head | None:
    row = q.one("SELECT seq, hash FROM custody_log ORDER BY seq DESC LIMIT 1")
    return None if row is None else Head(row["seq"], row["hash"])


def _checkpoint(row: dict[str, object]) -> Checkpoint:
    return Checkpoint(row["seq"], row["hash"], row["at"], row["station"], row["public_key"],  # type: ignore[arg-type]
                      row["signature"], row["countersignature"])  # type: ignore[arg-type]


def latest(q: Queries) -> Checkpoint | None:
    row = q.one("SELECT * FROM custody_checkpoint ORDER BY seq DESC LIMIT 1")
    return None if row is None else _checkpoint(row)


def all_checkpoints(q: Queries, *, up_to: int | None = None) -> list[Checkpoint]:
    if not _exists(q):
        return []
    if up_to is None:
        return [_checkpoint(r) for r in q.iterate("SELECT * FROM custody_checkpoint ORDER BY seq")]
    return [_checkpoint(r) for r in q.iterate("SELECT * FROM custody_checkpoint WHERE seq <= ? ORDER BY seq",
                                              (up_to,))]


def _exists(q: Queries) -> bool:
    """False on a database from before migration 0004 (audit verify reads such files read-only)."""
    return q.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'custody_checkpoint'") is not None


def checkpoint_head(tx: Tx, sign: Signer) -> Checkpoint | None:
    """Sign and store a checkpoint of the head, and queue it for the central platform; None when the
    head has not moved since the last checkpoint (or the log is empty)."""
    current = head(tx)
    last = tx.scalar("SELECT MAX(seq) FROM custody_checkpoint")
    if current is None or (last is not None and current.seq <= last):
        return None
    cp = sign(current)
    tx.execute(
        "INSERT INTO custody_checkpoint (seq, hash, at, station, public_key, signature) VALUES (?, ?, ?, ?, ?, ?)",
        (cp.seq, cp.hash, cp.at, cp.station, cp.public_key, cp.signature),
    )
    outbox.enqueue(tx, outbox.OutboxEntry(
        kind=OUTBOX_KIND, priority=OUTBOX_PRIORITY, dedupe_key=f"{OUTBOX_KIND}:{cp.station}:{cp.seq}",
        payload={"v": 1, "station": cp.station, "seq": cp.seq, "hash": cp.hash, "at": cp.at,
                 "public_key": cp.public_key, "signature": cp.signature},
    ))
    return cp


def record_countersignature(tx: Tx, seq: int, countersignature: str, *, at: str) -> bool:
    """Store the central platform's countersignature of checkpoint ``seq`` (called by the uplink when
    its receipt arrives). True if recorded now, False if this one was already recorded; ValueError for
    an unknown checkpoint or a different countersignature (the database refuses to replace one)."""
    if not countersignature:
        raise ValueError("a countersignature must not be empty")
    row = tx.one("SELECT countersignature FROM custody_checkpoint WHERE seq = ?", (seq,))
    if row is None:
        raise ValueError(f"no custody checkpoint at entry {seq}")
    if row["countersignature"] is not None:
        if row["countersignature"] == countersignature:
            return False
        raise ValueError(f"checkpoint at entry {seq} already carries a different countersignature")
    tx.execute("UPDATE custody_checkpoint SET countersignature = ?, countersigned_at = ? WHERE seq = ?",
               (countersignature, at, seq))
    return True
