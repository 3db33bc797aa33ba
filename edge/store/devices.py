"""Enrolled devices and their credentials."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from edge.store.queries import Queries, Tx
from edge.timeutil import to_iso, utcnow


def add(tx: Tx, *, device_id: str, serial: str, model: str, secret_hash: str, at: datetime | None = None) -> None:
    tx.execute(
        "INSERT INTO devices (device_id, serial, model, secret_hash, enrolled_at) VALUES (?, ?, ?, ?, ?)",
        (device_id, serial, model, secret_hash, to_iso(at or utcnow())),
    )


def active_secret_hash(q: Queries, device_id: str) -> str | None:
    """The stored secret hash of an enrolled, not removed device; None for anything else."""
    value = q.scalar("SELECT secret_hash FROM devices WHERE device_id = ? AND removed_at IS NULL", (device_id,))
    return None if value is None else str(value)


def get(q: Queries, device_id: str) -> dict[str, Any] | None:
    return q.one(
        "SELECT device_id, serial, model, enrolled_at, removed_at FROM devices WHERE device_id = ?", (device_id,)
    )
