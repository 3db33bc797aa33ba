"""Retention helpers: confirmations go through the store's receipt API, as the uplink will record them."""

from __future__ import annotations

from datetime import datetime, timedelta

from edge.store import Store
from edge.store.outbox import Receipt, confirm
from edge.timeutil import to_iso, utcnow


async def confirm_received(store: Store, sha256: str, reference: str = "central-object-1") -> bool:
    """What the uplink does when the central platform's receipt for these bytes arrives."""
    receipt = Receipt(sha256, reference, to_iso(utcnow()))
    return await store.write(lambda tx: confirm(tx, f"footage:{sha256}", receipt))


def past_routine_retention(days: int = 400) -> datetime:
    """A moment after any routine retention period of the tests (passed to Retention.run_once as now)."""
    return utcnow() + timedelta(days=days)
