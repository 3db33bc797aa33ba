"""Retention: the only path by which footage is ever deleted.

Routine footage is deleted once it is past ``routine_retention_days`` AND the central platform confirmed
receiving it (its outbox file entry is ``acked`` with a receipt). Held footage (marked on the camera,
SOS-covered, evidence, case-linked, or held by a supervisor) is never deleted here. Disk pressure never
deletes anything: see disk.py.

A deletion commits the tombstone and its custody entry first, then removes the file; a crash in between
leaves a tombstone whose file still exists, which reconciliation finishes removing at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from edge.bodycam.footage.layout import Layout, fsync_dir
from edge.bodycam.footage.metrics import FootageMetrics
from edge.store import Store, Tx, custody
from edge.store import footage as rows
from edge.timeutil import to_iso, utcnow

log = logging.getLogger(__name__)
ACTOR = "system:retention"


class Retention:
    def __init__(self, store: Store, layout: Layout, retention_days: int, metrics: FootageMetrics) -> None:
        self._store = store
        self._layout = layout
        self._days = retention_days
        self._metrics = metrics

    async def run_once(self, now: datetime | None = None) -> list[int]:
        """Delete what may be deleted; return the footage ids deleted."""
        stamp = to_iso(now or utcnow())
        candidates = await self._store.read(lambda q: rows.retention_candidates(q, stamp))
        deleted: list[int] = []
        for row in candidates:
            reason = (f"routine footage past its {self._days}-day retention (until {row['retain_until']}) and "
                      "confirmed received by the central platform")

            def write(tx: Tx, row: dict[str, object] = row, reason: str = reason) -> bool:
                # Re-check inside the transaction: a hold may have arrived since the candidate query.
                current = tx.one("SELECT state, hold, marked FROM footage WHERE id = ?", (row["id"],))
                if current is None or current["state"] != "good" or current["hold"] or current["marked"]:
                    return False
                receipt = tx.scalar("SELECT receipt FROM outbox WHERE dedupe_key = ?", (f"footage:{row['sha256']}",))
                rows.tombstone(tx, int(str(row["id"])), reason=reason, at=stamp)
                custody.append(tx, actor=ACTOR, action="footage.deleted", subject=f"footage:{row['id']}",
                               reason=reason, details={"sha256": row["sha256"], "path": row["path"],
                                                       "size": row["size"], "central_receipt": receipt})
                return True

            if not await self._store.write(write):
                continue
            await asyncio.to_thread(self.remove_files, str(row["path"]), row.get("thumbnail"))
            deleted.append(int(row["id"]))
            self._metrics.deleted.inc()
            log.info("retention deleted footage %s (%s)", row["id"], row["path"])
        return deleted

    def remove_files(self, rel: str, thumbnail: object) -> None:
        path = self._layout.path(rel)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            fsync_dir(path.parent)
        if isinstance(thumbnail, str):
            with contextlib.suppress(FileNotFoundError):
                self._layout.path(thumbnail).unlink()
