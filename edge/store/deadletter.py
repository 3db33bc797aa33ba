"""Dead letters: input we refused, kept with a machine-readable reason and a truncated, masked copy."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from edge.privacy import mask_bytes, mask_value
from edge.store.queries import Queries, Tx
from edge.timeutil import to_iso, utcnow

MAX_KEPT_BYTES = 65_536


def record(
    tx: Tx,
    *,
    source: str,
    channel: str,
    reason: str,
    detail: str,
    payload: bytes | None,
    at: datetime | None = None,
) -> int:
    size = 0 if payload is None else len(payload)
    # The copy is masked too: a refused kiosk or camera payload may hold a resident ID. Masking keeps every
    # length, so the copy still shows where parsing failed; the digits a technician needs are gone.
    kept = None if payload is None else mask_bytes(payload[:MAX_KEPT_BYTES])
    result = tx.execute(
        "INSERT INTO dead_letter (at, source, channel, reason, detail, payload, payload_size)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (to_iso(at or utcnow()), source, mask_value(channel), reason, mask_value(detail)[:2000], kept, size),
    )
    assert result.lastrowid is not None
    return result.lastrowid


def recent(q: Queries, *, limit: int = 100, reason: str | None = None) -> list[dict[str, Any]]:
    """Newest first, without the payload bytes (they may hold personal data)."""
    sql = "SELECT id, at, source, channel, reason, detail, payload_size FROM dead_letter"
    params: tuple[Any, ...] = ()
    if reason:
        sql += " WHERE reason = ?"
        params = (reason,)
    rows = q.all(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
    # Masked again on the way out: rows written before masking covered detail and channel hold raw text.
    return [mask_value(row) for row in rows]
