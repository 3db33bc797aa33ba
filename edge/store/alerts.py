"""Alert rows: one per activation of a condition (its key), with every transition in alert_events."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from edge.store.canonical import canonical_json
from edge.store.queries import Queries, Tx


def active(q: Queries, key: str) -> dict[str, Any] | None:
    return q.one("SELECT * FROM alerts WHERE key = ? AND cleared_at IS NULL", (key,))


def open_alert(tx: Tx, *, key: str, kind: str, severity: str, subject: str, message: str,
               details: Mapping[str, Any], at: str) -> int:
    result = tx.execute(
        "INSERT INTO alerts (key, kind, severity, subject, message, details, raised_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (key, kind, severity, subject, message, canonical_json(dict(details)), at, at),
    )
    assert result.lastrowid is not None
    _event(tx, result.lastrowid, at, "raised", severity, message)
    return result.lastrowid


def change(tx: Tx, alert_id: int, *, severity: str, message: str, details: Mapping[str, Any], at: str) -> None:
    tx.execute("UPDATE alerts SET severity = ?, message = ?, details = ?, updated_at = ? WHERE id = ?",
               (severity, message, canonical_json(dict(details)), at, alert_id))
    _event(tx, alert_id, at, "changed", severity, message)


def close(tx: Tx, alert_id: int, *, severity: str, reason: str, at: str) -> None:
    tx.execute("UPDATE alerts SET cleared_at = ?, cleared_reason = ?, updated_at = ? WHERE id = ?",
               (at, reason, at, alert_id))
    _event(tx, alert_id, at, "cleared", severity, reason)


def _event(tx: Tx, alert_id: int, at: str, what: str, severity: str, message: str) -> None:
    tx.execute("INSERT INTO alert_events (alert_id, at, change, severity, message) VALUES (?, ?, ?, ?, ?)",
               (alert_id, at, what, severity, message))


def listing(q: Queries, *, active_only: bool, kind: str | None, subject: str | None, limit: int
            ) -> list[dict[str, Any]]:
    sql = "SELECT * FROM alerts WHERE 1 = 1"
    params: list[Any] = []
    if active_only:
        sql += " AND cleared_at IS NULL"
    if kind:
        sql += " AND kind = ?"
        params.append(kind)
    if subject:
        sql += " AND subject = ?"
        params.append(subject)
    rows = q.all(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
    for row in rows:
        row["details"] = json.loads(row["details"])
        row["history"] = q.all(
            "SELECT at, change, severity, message FROM alert_events WHERE alert_id = ? ORDER BY id", (row["id"],)
        )
    return rows


def all_active(q: Queries) -> list[dict[str, Any]]:
    """Every active alert (the alert bus's memory of what is raised, loaded at start)."""
    rows = q.all("SELECT key, kind, severity, subject, message, details FROM alerts WHERE cleared_at IS NULL")
    for row in rows:
        row["details"] = json.loads(row["details"])
    return rows
