"""Uploads that stopped part-way: warn about them, keep their bytes.

A camera may come back days later and resume, so a partial upload is never deleted here; after
``stale_upload_h`` hours without progress a warning names the device and the file it still owes, and the
warning clears itself once the upload resumes, completes or is terminated.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from edge.alerts import Alert, AlertBus, Severity
from edge.store import Store
from edge.store import alerts as alert_rows
from edge.store import footage as footage_rows
from edge.timeutil import to_iso, utcnow

KIND = "footage.upload_stalled"


class StalledUploads:
    def __init__(self, store: Store, alerts: AlertBus, stale_after_h: float) -> None:
        self._store = store
        self._alerts = alerts
        self._stale_after = timedelta(hours=stale_after_h)

    async def check(self, now: datetime | None = None) -> int:
        """Raise a warning per stalled upload, clear the ones that moved on; returns how many are stalled."""
        moment = now or utcnow()
        stalled = await self._store.read(lambda q: footage_rows.stalled_uploads(q, to_iso(moment - self._stale_after)))
        keys = set()
        for row in stalled:
            key = f"{KIND}:{row['id']}"
            keys.add(key)
            await self._alerts.raise_alert(Alert(
                key, KIND, Severity.WARNING, f"device:{row['device_id']}",
                f"upload of {row['file_name']} stalled at {row['received']} of {row['length']} bytes "
                f"since {row['updated_at']}; the partial file is kept for the camera to resume",
                {"upload_id": row["id"], "device_id": row["device_id"], "file_name": row["file_name"],
                 "received": row["received"], "length": row["length"], "last_progress": row["updated_at"]},
            ), at=moment)
        active = await self._store.read(lambda q: alert_rows.listing(
            q, active_only=True, kind=KIND, subject=None, limit=1000))
        for row in active:
            if row["key"] not in keys:
                await self._alerts.clear_alert(row["key"], "upload resumed, completed or was terminated", at=moment)
        return len(stalled)
