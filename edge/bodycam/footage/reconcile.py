"""Start-up reconciliation of the footage directory against the database. It never deletes evidence.

Repairs what is provably safe:
- an ingest left ``finalizing`` (crash between sealing the file and the transaction): its file is re-hashed
  and registered if the hash is the one recorded before the crash;
- a dock copy cut by a crash: its temporary copy is removed and the file is copied again from the camera;
- a tombstoned (retention-deleted) row whose file is still there (a crash between the tombstone's commit
  and the unlink): the recorded deletion is finished, but only if no row that is not deleted names the
  same path (files are named by content: the same bytes may have been ingested again since).
Reports the rest (log, alert, ``GET /api/v1/footage/reconciliation``): files without rows (kept, untouched),
rows without files, partial uploads nobody knows about.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from edge.alerts import Alert, AlertBus, Severity
from edge.bodycam.footage.committer import Ingestor
from edge.bodycam.footage.layout import Layout, sha256_file
from edge.bodycam.footage.metrics import FootageMetrics
from edge.bodycam.footage.retention import Retention
from edge.store import Store, Tx
from edge.store import footage as rows
from edge.timeutil import to_iso, utcnow

log = logging.getLogger(__name__)


def _walk(directory: Path, root: Path) -> set[str]:
    found: set[str] = set()
    for base, _dirs, names in os.walk(directory):
        for name in names:
            if not name.startswith("."):
                found.add(str((Path(base) / name).relative_to(root)))
    return found


class Reconciler:
    def __init__(self, store: Store, layout: Layout, ingestor: Ingestor, retention: Retention, alerts: AlertBus,
                 metrics: FootageMetrics) -> None:
        self._store = store
        self._layout = layout
        self._ingestor = ingestor
        self._retention = retention
        self._alerts = alerts
        self._metrics = metrics

    async def run(self) -> dict[str, Any]:
        report: dict[str, Any] = {"checked_at": to_iso(utcnow()), "repaired": [], "files_without_rows": [],
                                  "rows_without_files": [], "unknown_partials": [], "removed_dock_copies": []}
        await self._dock_copies(report)
        for ingest in await self._store.read(lambda q: rows.ingests_in(q, ["finalizing"])):
            await self._finish(ingest, report)
        await self._compare(report)
        await self._publish(report)
        return report

    async def _dock_copies(self, report: dict[str, Any]) -> None:
        cut = await self._store.read(lambda q: rows.ingests_in(q, ["receiving"], source="dock"))

        def write(tx: Tx) -> None:
            rows.dock_forget_copying(tx)
            for ingest in cut:
                rows.ingest_update(tx, ingest["id"], state="terminated")

        await self._store.write(write)
        for ingest in cut:
            part = self._layout.dock_part(ingest["id"])
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(part.unlink)
            report["removed_dock_copies"].append(ingest["id"])
            log.info("dock copy %s was cut by a restart; it will be copied again", ingest["id"])

    async def _finish(self, ingest: dict[str, Any], report: dict[str, Any]) -> None:
        rel, sha = ingest["target_path"], ingest["sha256"]
        target = self._layout.path(rel)
        part = (self._layout.dock_part if ingest["source"] == "dock" else self._layout.upload_part)(ingest["id"])
        good = ingest["declared_sha256"] in (None, sha)
        source = target if target.exists() else part if part.exists() else None
        if source is None:
            report["rows_without_files"].append({"ingest_id": ingest["id"], "path": rel, "sha256": sha})
            return
        if await asyncio.to_thread(sha256_file, source) != sha:
            report["files_without_rows"].append({"path": str(source.relative_to(self._layout.root)),
                                                 "problem": "content differs from the hash recorded before a crash"})
            return
        async with self._retention.locks.hold(sha):
            if source == part:
                await self._ingestor.place(part, rel, sha)
            outcome = await self._ingestor.commit(ingest, rel, sha, good=good)
        report["repaired"].append({"ingest_id": ingest["id"], "footage_id": outcome.footage_id, "path": rel,
                                   "action": "registered a file sealed before a crash"})
        log.warning("reconciliation registered %s (ingest %s) after a crash", rel, ingest["id"])

    async def _compare(self, report: dict[str, Any]) -> None:
        known = await self._store.read(rows.all_files)
        open_uploads = {i["id"] for i in await self._store.read(lambda q: rows.ingests_in(q, ["receiving"]))}
        layout = self._layout
        on_disk = await asyncio.to_thread(
            lambda: _walk(layout.files, layout.root) | _walk(layout.quarantine, layout.root))
        partials = await asyncio.to_thread(_walk, layout.uploads, layout.root)
        by_path = {r["path"]: r for r in known}
        for rel in sorted(on_disk - set(by_path)):
            report["files_without_rows"].append({"path": rel, "problem": "no footage row (kept untouched)"})
        for row in known:
            exists = row["path"] in on_disk
            if row["state"] == "deleted" and exists:
                # Only if no live row names the path: the same bytes may have been ingested again since.
                async with self._retention.locks.hold(row["sha256"]):
                    gone = await self._retention.remove_unused(row["path"], row["thumbnail"])
                if row["path"] in gone:
                    report["repaired"].append({"footage_id": row["id"], "path": row["path"],
                                               "action": "finished a retention deletion recorded before a crash"})
            elif row["state"] != "deleted" and not exists:
                report["rows_without_files"].append({"footage_id": row["id"], "path": row["path"],
                                                     "sha256": row["sha256"]})
        for rel in sorted(partials):
            if Path(rel).stem not in open_uploads:
                report["unknown_partials"].append({"path": rel, "problem": "partial upload without an open upload"})

    async def _publish(self, report: dict[str, Any]) -> None:
        for kind in ("files_without_rows", "rows_without_files", "unknown_partials", "repaired"):
            self._metrics.reconcile_problems.labels(kind).set(len(report[kind]))
        orphans, missing = report["files_without_rows"], report["rows_without_files"]
        if orphans:
            log.error("footage reconciliation: %d file(s) without a database row: %s", len(orphans),
                      [o["path"] for o in orphans[:20]])
            await self._alerts.raise_alert(Alert(
                "footage.orphan_files", "footage.orphan_files", Severity.WARNING, "station:footage",
                f"{len(orphans)} footage file(s) on disk have no database row (kept; see reconciliation)",
                {"count": len(orphans), "sample": orphans[:20]}))
        else:
            await self._alerts.clear_alert("footage.orphan_files", "no orphan files at the last reconciliation")
        if missing:
            log.error("footage reconciliation: %d row(s) whose file is missing: %s", len(missing), missing[:20])
            await self._alerts.raise_alert(Alert(
                "footage.missing_files", "footage.missing_files", Severity.CRITICAL, "station:footage",
                f"{len(missing)} footage row(s) have no file on disk", {"count": len(missing), "sample": missing[:20]}))
        else:
            await self._alerts.clear_alert("footage.missing_files", "no missing files at the last reconciliation")
        if report["repaired"]:
            log.warning("footage reconciliation repaired %d item(s)", len(report["repaired"]))
