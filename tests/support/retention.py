"""Retention helpers: confirmations go through the store's receipt API, as the uplink will record them."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

from edge.store import Store, expected_footage
from edge.store.outbox import Receipt, confirm
from edge.timeutil import to_iso, utcnow


async def confirm_received(store: Store, sha256: str, reference: str = "central-object-1") -> bool:
    """What the uplink does when the central platform's receipt for these bytes arrives."""
    receipt = Receipt(sha256, reference, to_iso(utcnow()))
    return await store.write(lambda tx: confirm(tx, f"footage:{sha256}", receipt))


def past_routine_retention(days: int = 400) -> datetime:
    """A moment after any routine retention period of the tests (passed to Retention.run_once as now)."""
    return utcnow() + timedelta(days=days)


async def announce_marked(store: Store, path: Path, device_id: str = "cam-0001") -> None:
    """The camera's own ``file`` announcement of a marked recording, through the store's API as the MQTT
    handler records it: only an announcement marks a file (an upload's claim grants nothing)."""
    data, now = path.read_bytes(), utcnow()  # noqa: ASYNC240 - a small test file
    await store.write(lambda tx: expected_footage.announce(
        tx, device_id=device_id, file_name=path.name, officer_no=None, device_start=now, device_end=now,
        size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), marked=True, sos=False, announced_at=now,
        announced_device_ts=now, deadline_at=now))
