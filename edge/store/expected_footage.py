"""Expected footage: recordings a camera announced, to be fulfilled by the footage ingest by a deadline.

The footage ingest calls ``fulfil(tx, ...)`` inside its own transaction (with its footage row and custody
entry), so an expectation is met exactly when the footage is committed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from edge.store.queries import Queries, Tx
from edge.timeutil import to_iso, utcnow

_COLUMNS = ("id, device_id, file_name, officer_no, device_start, device_end, size_bytes, sha256, marked,"
            " hold_reason, announced_at, announced_device_ts, deadline_at, overdue_alerted_at, fulfilled_at,"
            " footage_id")


def _hold(marked: bool, sos: bool) -> str | None:
    return ",".join(r for r, on in (("marked", marked), ("sos", sos)) if on) or None


def announce(tx: Tx, *, device_id: str, file_name: str, officer_no: str | None, device_start: datetime,
             device_end: datetime, size_bytes: int, sha256: str, marked: bool, sos: bool,
             announced_at: datetime, announced_device_ts: datetime, deadline_at: datetime) -> bool:
    """Record one announced file; False if it was announced before (a redelivery changes nothing)."""
    return tx.execute(
        "INSERT INTO expected_footage (device_id, file_name, officer_no, device_start, device_end, size_bytes,"
        " sha256, marked, hold_reason, announced_at, announced_device_ts, deadline_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, file_name) DO NOTHING",
        (device_id, file_name, officer_no, to_iso(device_start), to_iso(device_end), size_bytes, sha256,
         int(marked), _hold(marked, sos), to_iso(announced_at), to_iso(announced_device_ts), to_iso(deadline_at)),
    ).rowcount == 1


def hold(tx: Tx, device_id: str, reason: str, *, file_name: str | None = None,
         covering: datetime | None = None) -> int:
    """Add a permanent-retention reason to one named file or to the files covering a device instant."""
    params: tuple[str, ...]
    if file_name is not None:
        where, params = "device_id = ? AND file_name = ?", (device_id, file_name)
    elif covering is not None:
        stamp = to_iso(covering)
        where, params = "device_id = ? AND device_start <= ? AND device_end >= ?", (device_id, stamp, stamp)
    else:
        raise ValueError("name a file or an instant")
    rows = tx.all(f"SELECT id, hold_reason FROM expected_footage WHERE {where}", params)
    changed = 0
    for row in rows:
        reasons = set(filter(None, (row["hold_reason"] or "").split(",")))
        if reason not in reasons:
            tx.execute("UPDATE expected_footage SET hold_reason = ? WHERE id = ?",
                       (",".join(sorted(reasons | {reason})), row["id"]))
            changed += 1
    return changed


def fulfil(tx: Tx, device_id: str, file_name: str, size: int, sha256: str, footage_id: str,
           *, at: datetime | None = None) -> dict[str, Any] | None:
    """Mark the expectation met; returns the row (with ``hold_reason`` to carry over) or None if none matches.

    A size or hash that differs from the announcement does not fulfil it: the row is returned with
    ``mismatch`` set so the ingest can quarantine or flag the footage, and stays open.
    """
    row = tx.one(f"SELECT {_COLUMNS} FROM expected_footage WHERE device_id = ? AND file_name = ?",
                 (device_id, file_name))
    if row is None:
        return None
    if row["size_bytes"] != size or row["sha256"] != sha256:
        return {**row, "mismatch": True}
    if row["fulfilled_at"] is None:
        stamp = to_iso(at or utcnow())
        tx.execute("UPDATE expected_footage SET fulfilled_at = ?, footage_id = ? WHERE id = ?",
                   (stamp, footage_id, row["id"]))
        row.update(fulfilled_at=stamp, footage_id=footage_id)
    return {**row, "mismatch": False}


def get(q: Queries, device_id: str, file_name: str) -> dict[str, Any] | None:
    return q.one(f"SELECT {_COLUMNS} FROM expected_footage WHERE device_id = ? AND file_name = ?",
                 (device_id, file_name))


def for_footage(q: Queries, footage_id: int) -> list[dict[str, Any]]:
    """The announcements this footage fulfilled."""
    return q.all(f"SELECT {_COLUMNS} FROM expected_footage WHERE footage_id = ?", (str(footage_id),))


def fulfilled_covering(q: Queries, device_id: str, at: datetime) -> list[int]:
    """Footage ids of the device's fulfilled announcements whose recording covers ``at`` (device clock)."""
    stamp = to_iso(at)
    found = q.all("SELECT footage_id FROM expected_footage WHERE device_id = ? AND device_start <= ?"
                  " AND device_end >= ? AND footage_id IS NOT NULL", (device_id, stamp, stamp))
    return [int(r["footage_id"]) for r in found if str(r["footage_id"]).isdigit()]


def matching(q: Queries, device_id: str, file_name: str, size: int, sha256: str) -> dict[str, Any] | None:
    """The announcement of exactly this file (name, size and hash all agree), fulfilled or not."""
    return q.one(f"SELECT {_COLUMNS} FROM expected_footage WHERE device_id = ? AND file_name = ?"
                 " AND size_bytes = ? AND sha256 = ?", (device_id, file_name, size, sha256))


def overdue(q: Queries, now: datetime, *, limit: int = 500) -> list[dict[str, Any]]:
    """Unfulfilled past their deadline and not alerted yet."""
    return q.all(f"SELECT {_COLUMNS} FROM expected_footage WHERE fulfilled_at IS NULL AND deadline_at <= ?"
                 " AND overdue_alerted_at IS NULL ORDER BY deadline_at LIMIT ?", (to_iso(now), limit))


def mark_alerted(tx: Tx, ids: list[int], at: datetime) -> None:
    tx.executemany("UPDATE expected_footage SET overdue_alerted_at = ? WHERE id = ?",
                   [(to_iso(at), i) for i in ids])


def for_device(q: Queries, device_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    return q.all(f"SELECT {_COLUMNS} FROM expected_footage WHERE device_id = ? ORDER BY id DESC LIMIT ?",
                 (device_id, limit))


def overdue_alert_key(device_id: str, file_name: str) -> str:
    return f"bodycam.footage_overdue:{device_id}/{file_name}"


def fulfilled_overdue_keys(q: Queries) -> list[str]:
    """Overdue alerts still active whose footage has arrived since (to be cleared)."""
    rows = q.all("SELECT a.key FROM alerts a JOIN expected_footage e"
                 " ON a.key = 'bodycam.footage_overdue:' || e.device_id || '/' || e.file_name"
                 " WHERE a.cleared_at IS NULL AND e.fulfilled_at IS NOT NULL")
    return [r["key"] for r in rows]
