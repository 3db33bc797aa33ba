"""Permanent holds on footage (SQL only): who holds a file, and placing or releasing one holder's hold.

``footage.hold_reason`` is a comma-separated list of holders: ``marked on the camera``, ``announced: …``
(the camera's ``file`` announcement said marked or SOS), ``camera: marked`` / ``camera: sos`` (the camera's
mark or SOS applied after the footage arrived, edge/bodycam/footage/camera_holds.py), ``case:<number>`` (one
per linked case) and ``supervisor`` (a person's hold; the person's reason is in the custody entry).
Releasing one holder keeps every other one, and the file stays held while any is left. Retention never
relies on this list alone: edge/store/retention.py also checks the announcement, case links and review items themselves.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from edge.store.queries import Queries, Tx
from edge.timeutil import from_iso, to_iso

SUPERVISOR = "supervisor"


def holders(hold_reason: str | None) -> list[str]:
    return [r.strip() for r in (hold_reason or "").split(",") if r.strip()]


def camera_holds(q: Queries, footage_id: int) -> set[str]:
    """Which of ``marked`` and ``sos`` the camera put on this file (its flag, its announcement, an SOS since).

    These holds are the camera's: no person may release them.
    """
    row = q.one("SELECT marked, hold_reason FROM footage WHERE id = ?", (footage_id,))
    if row is None:
        return set()
    found = {"marked"} if row["marked"] else set()
    announced = q.all("SELECT hold_reason FROM expected_footage WHERE footage_id = ?", (str(footage_id),))
    words = " ".join([row["hold_reason"] or ""] + [a["hold_reason"] or "" for a in announced]).lower()
    for reason in ("marked", "sos"):
        if reason in words.replace(",", " ").split():
            found.add(reason)
    return found


def _release_until(q: Queries, footage_id: int, retention_days: int, now: datetime | None) -> str | None:
    """Retention of a released file: ``retention_days`` from ingest, or from ``now`` when given and later."""
    ingested = q.scalar("SELECT ingested_at FROM footage WHERE id = ?", (footage_id,))
    if ingested is None:
        return None
    start = from_iso(ingested) if now is None else max(now, from_iso(ingested))
    return to_iso(start + timedelta(days=retention_days))


def set_holder(tx: Tx, footage_id: int, holder: str, held: bool, *, retention_days: int,
               now: datetime | None = None) -> tuple[bool, list[str], str | None]:
    """Add (``held``) or remove one holder; returns (still held, holders left, retain_until).

    A file released by its last holder gets ``retention_days`` of routine retention, counted from ingest
    (from ``now`` when given: a person's release never leaves less than a full period from the release).
    """
    row = tx.one("SELECT marked, hold_reason FROM footage WHERE id = ?", (footage_id,))
    if row is None:
        return False, [], None
    left = [r for r in holders(row["hold_reason"]) if r != holder]
    if held:
        left.append(holder)
    on = bool(left) or bool(row["marked"])
    until = None if on else _release_until(tx, footage_id, retention_days, now)
    tx.execute("UPDATE footage SET hold = ?, hold_reason = ?, retain_until = ? WHERE id = ?",
               (int(on), ",".join(left) or None, until, footage_id))
    return on, left, until
