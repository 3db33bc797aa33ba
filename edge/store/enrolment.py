"""Officers, device-to-officer assignments (shifts), device listing/removal, broker account lines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from edge.store.queries import Queries, Tx
from edge.timeutil import to_iso, utcnow


class EnrolmentError(Exception):
    """A request that contradicts what is enrolled (unknown officer, overlapping shift, ...)."""


def add_officer(tx: Tx, *, officer_no: str, name: str, unit_no: str, unit_name: str,
                at: datetime | None = None) -> None:
    if tx.scalar("SELECT 1 FROM officers WHERE officer_no = ?", (officer_no,)):
        raise EnrolmentError(f"officer {officer_no} exists already")
    tx.execute("INSERT INTO officers (officer_no, name, unit_no, unit_name, created_at) VALUES (?, ?, ?, ?, ?)",
               (officer_no, name, unit_no, unit_name, to_iso(at or utcnow())))


def officers(q: Queries) -> list[dict[str, Any]]:
    return q.all("SELECT officer_no, name, unit_no, unit_name, created_at FROM officers ORDER BY officer_no")


def officer(q: Queries, officer_no: str) -> dict[str, Any] | None:
    return q.one("SELECT officer_no, name, unit_no, unit_name, created_at FROM officers WHERE officer_no = ?",
                 (officer_no,))


def assign(tx: Tx, *, device_id: str, officer_no: str, starts_at: datetime, ends_at: datetime, actor: str,
           at: datetime | None = None) -> int:
    """Give a device to an officer for [starts_at, ends_at); refuses overlaps on the same device."""
    if ends_at <= starts_at:
        raise EnrolmentError("a shift must end after it starts")
    if not tx.scalar("SELECT 1 FROM devices WHERE device_id = ? AND removed_at IS NULL", (device_id,)):
        raise EnrolmentError(f"device {device_id} is not enrolled")
    if not tx.scalar("SELECT 1 FROM officers WHERE officer_no = ?", (officer_no,)):
        raise EnrolmentError(f"officer {officer_no} is not enrolled")
    start, end = to_iso(starts_at), to_iso(ends_at)
    clash = tx.one("SELECT officer_no, starts_at, ends_at FROM device_assignments WHERE device_id = ?"
                   " AND starts_at < ? AND ends_at > ?", (device_id, end, start))
    if clash is not None:
        raise EnrolmentError(f"device {device_id} is assigned to officer {clash['officer_no']} from "
                             f"{clash['starts_at']} to {clash['ends_at']}")
    result = tx.execute(
        "INSERT INTO device_assignments (device_id, officer_no, starts_at, ends_at, created_at, created_by)"
        " VALUES (?, ?, ?, ?, ?, ?)", (device_id, officer_no, start, end, to_iso(at or utcnow()), actor))
    assert result.lastrowid is not None
    return result.lastrowid


_ASSIGNMENT = ("SELECT a.id, a.device_id, a.officer_no, o.name AS officer_name, o.unit_no, o.unit_name,"
               " a.starts_at, a.ends_at FROM device_assignments a JOIN officers o USING (officer_no)")


def assignment_at(q: Queries, device_id: str, at: datetime) -> dict[str, Any] | None:
    """Who carried the device at ``at`` (gateway time), if anyone."""
    stamp = to_iso(at)
    return q.one(_ASSIGNMENT + " WHERE a.device_id = ? AND a.starts_at <= ? AND a.ends_at > ?",
                 (device_id, stamp, stamp))


def assignments(q: Queries, device_id: str) -> list[dict[str, Any]]:
    return q.all(_ASSIGNMENT + " WHERE a.device_id = ? ORDER BY a.starts_at", (device_id,))


def devices(q: Queries, *, include_removed: bool = False) -> list[dict[str, Any]]:
    sql = "SELECT device_id, serial, model, enrolled_at, removed_at FROM devices"
    if not include_removed:
        sql += " WHERE removed_at IS NULL"
    return q.all(sql + " ORDER BY device_id")


def remove_device(tx: Tx, device_id: str, *, at: datetime | None = None) -> bool:
    """Mark removed (kept for history) and drop its broker account; False if not enrolled."""
    done = tx.execute("UPDATE devices SET removed_at = ? WHERE device_id = ? AND removed_at IS NULL",
                      (to_iso(at or utcnow()), device_id)).rowcount == 1
    tx.execute("DELETE FROM broker_accounts WHERE device_id = ?", (device_id,))
    return done


def set_broker_account(tx: Tx, username: str, broker_hash: str, *, device_id: str | None = None,
                       at: datetime | None = None) -> None:
    tx.execute("INSERT INTO broker_accounts (username, device_id, broker_hash, updated_at) VALUES (?, ?, ?, ?)"
               " ON CONFLICT (username) DO UPDATE SET broker_hash = excluded.broker_hash,"
               " device_id = excluded.device_id, updated_at = excluded.updated_at",
               (username, device_id, broker_hash, to_iso(at or utcnow())))


def broker_accounts(q: Queries) -> dict[str, str]:
    """username -> Mosquitto hash, for the enrolled (not removed) devices only."""
    rows = q.all("SELECT b.username, b.broker_hash FROM broker_accounts b JOIN devices d USING (device_id)"
                 " WHERE d.removed_at IS NULL ORDER BY b.username")
    return {row["username"]: row["broker_hash"] for row in rows}
