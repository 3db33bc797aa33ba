"""Retention: the only path by which footage is ever deleted.

Routine footage is deleted once it is past ``routine_retention_days`` AND the central platform confirmed
receiving it (its outbox file entry is ``confirmed`` with a receipt, recorded by ``edge.store.outbox.confirm``).
Everything else keeps the file: see ``edge.store.retention.KEEP_REASONS`` (marked, held, announced marked
or SOS, case links in linked/review, an open review item, not expired, not confirmed, path still named by a
live row). Disk pressure never deletes anything: see disk.py.

Order of a deletion (one design, "tombstone, then unlink"), all under the file's content lock:
1. one transaction re-checks every keep reason (the same conditions the selection used) and, if none
   holds, writes the tombstone (row kept, ``state = 'deleted'``) and its ``footage.deleted`` custody entry;
2. the file (and its thumbnail) is unlinked, unless a live row names the same path, and the directory
   fsynced.
A crash between 1 and 2 leaves a tombstone whose file is still there: start-up reconciliation finishes
the removal, again only if no live row names the path. A crash after 2 leaves nothing to do. Nothing is
ever removed before its tombstone is committed, so a crash can never lose a file whose row is not
deleted. Ingest holds the same lock while it decides "already stored?", places and registers a file, so
identical bytes arriving during a deletion are registered only once the old file is gone (and stored anew).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

from edge.bodycam.footage.content_locks import ContentLocks
from edge.bodycam.footage.layout import Layout, fsync_dir
from edge.bodycam.footage.metrics import FootageMetrics
from edge.store import Queries, Store, Tx, custody
from edge.store import footage as rows
from edge.store import retention as rules
from edge.timeutil import to_iso, utcnow

log = logging.getLogger(__name__)
ACTOR = "system:retention"
BATCH = 500


class Retention:
    def __init__(self, store: Store, layout: Layout, retention_days: int, metrics: FootageMetrics,
                 locks: ContentLocks | None = None) -> None:
        self._store = store
        self._layout = layout
        self._days = retention_days
        self._metrics = metrics
        self.locks = locks or ContentLocks()

    async def run_once(self, now: datetime | None = None) -> list[int]:
        """Delete what may be deleted; return the footage ids deleted."""
        stamp = to_iso(now or utcnow())
        deleted: list[int] = []
        while True:  # in batches, so a long backlog never sits in memory at once
            batch = await self.candidates(stamp)
            done = [int(row["id"]) for row in batch if await self.delete(row, stamp)]
            deleted += done
            if len(batch) < BATCH or not done:
                return deleted

    async def candidates(self, stamp: str) -> list[dict[str, Any]]:
        return await self._store.read(lambda q: rules.candidates(q, stamp, BATCH))

    async def delete(self, row: dict[str, Any], stamp: str) -> bool:
        """Delete one candidate if, re-checked now inside the deleting transaction, nothing keeps it."""
        footage_id = int(row["id"])
        reason = (f"routine footage past its {self._days}-day retention (until {row['retain_until']}) and "
                  "confirmed received by the central platform")

        def write(tx: Tx) -> list[str]:
            keep = rules.keep_reasons(tx, footage_id, stamp)
            if keep:
                return keep
            receipt = tx.scalar("SELECT receipt FROM outbox WHERE dedupe_key = ?", (f"footage:{row['sha256']}",))
            rows.tombstone(tx, footage_id, reason=reason, at=stamp)
            custody.append(tx, actor=ACTOR, action="footage.deleted", subject=f"footage:{footage_id}",
                           reason=reason, details={"sha256": row["sha256"], "path": row["path"],
                                                   "size": row["size"], "central_receipt": receipt})
            return []

        async with self.locks.hold(str(row["sha256"])):
            keep = await self._store.write(write)
            if keep:
                log.info("retention kept footage %d: %s", footage_id, ", ".join(keep))
                return False
            await self.remove_unused(str(row["path"]), row.get("thumbnail"))
        self._metrics.deleted.inc()
        log.info("retention deleted footage %d (%s)", footage_id, row["path"])
        return True

    async def remove_unused(self, rel: str, thumbnail: object) -> list[str]:
        """Unlink ``rel`` (and the thumbnail) unless a row that is not deleted names it; returns what went.

        The caller holds the content lock, so no ingest can start naming the path meanwhile.
        """
        def unused(q: Queries) -> list[str]:
            names = [rel] + ([thumbnail] if isinstance(thumbnail, str) else [])
            return [name for name in names if not rules.path_in_use(q, name)]

        free = await self._store.read(unused)
        return await asyncio.to_thread(self._unlink, free)

    def _unlink(self, names: list[str]) -> list[str]:
        gone = []
        for name in names:
            path = self._layout.path(name)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                fsync_dir(path.parent)
                gone.append(name)
        return gone
