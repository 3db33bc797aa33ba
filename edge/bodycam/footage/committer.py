"""Turning a fully received file into footage: verify, seal, one transaction, then probe.

Order (each step durable before the next): the ingest row goes to ``finalizing`` with the computed hash and
the target path; the file is made read-only and moved into place (directories fsynced); then one
transaction writes the footage row, its custody entry, its outbox row and the ingest's final state. A crash
between any two steps is finished at the next start by reconciliation, which knows the target from the
``finalizing`` row and re-hashes the file before registering it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from edge.alerts import Alert, AlertBus, Severity
from edge.bodycam.footage import accounting, camera_holds
from edge.bodycam.footage.config import FootageConfig
from edge.bodycam.footage.content_locks import ContentLocks
from edge.bodycam.footage.layout import Layout, seal, sha256_file
from edge.bodycam.footage.metrics import FootageMetrics
from edge.bodycam.footage.names import extension
from edge.bodycam.media import MediaProber
from edge.store import Store, Tx, custody, outbox
from edge.store import footage as rows
from edge.store.outbox import FileRef, OutboxEntry, Priority
from edge.timeutil import from_iso, to_iso, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CaseHooks:
    """The case domain's part in an ingest (issue 6): ``owed`` runs inside the footage row's transaction
    (a durable "match this file" marker), ``ingested`` after it committed (the matching itself)."""

    owed: Callable[[Tx, int], None]
    ingested: Callable[[int], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Outcome:
    state: str  # complete | quarantined | duplicate
    footage_id: int
    sha256: str


def _provenance(facts: accounting.RecordingFacts, trusted_claims: bool) -> str:
    if facts.announcement is not None:
        return "matches the camera's announcement"
    if trusted_claims:
        return "unannounced: no matching announcement from the camera yet; facts as read from the camera's storage"
    return "unannounced: no matching announcement from the camera yet; the sender's own claims grant nothing"


class Ingestor:
    def __init__(self, store: Store, layout: Layout, alerts: AlertBus, config: FootageConfig,
                 metrics: FootageMetrics, prober: MediaProber | None) -> None:
        self._store = store
        self._layout = layout
        self._alerts = alerts
        self._config = config
        self._metrics = metrics
        self._prober = prober
        self._probes: set[asyncio.Task[None]] = set()
        self.cases: CaseHooks | None = None  # set by the daemon when the case domain runs
        self.locks = ContentLocks()  # shared with retention by the footage service

    async def finalize(self, ingest: dict[str, Any], part: Path, computed: str) -> Outcome:
        """``part`` is complete and fsynced and hashes to ``computed``."""
        # Under the content lock: retention may be deleting a file of these very bytes (content_locks.py).
        async with self.locks.hold(computed):
            return await self._finalize(ingest, part, computed)

    async def _finalize(self, ingest: dict[str, Any], part: Path, computed: str) -> Outcome:
        declared = ingest["declared_sha256"]
        good = declared is None or declared == computed
        ext = extension(ingest["file_name"])
        if good:
            existing = await self._store.read(lambda q: rows.good_by_sha(q, computed))
            if existing is not None:
                return await self._duplicate(ingest, part, existing)
        rel = self._layout.good_rel(computed, ext) if good else self._layout.quarantine_rel(ingest["id"], computed, ext)
        await self._store.write(lambda tx: rows.ingest_update(
            tx, ingest["id"], state="finalizing", sha256=computed, target_path=rel))
        await self.place(part, rel, computed)
        return await self.commit(ingest, rel, computed, good=good)

    async def place(self, part: Path, rel: str, sha256: str) -> None:
        """Seal ``part`` at ``rel``; if identical content is already there (a race, a past orphan), keep that."""
        target = self._layout.path(rel)
        try:
            await asyncio.to_thread(seal, part, target)
        except FileExistsError:
            if await asyncio.to_thread(sha256_file, target) != sha256:
                raise RuntimeError(f"{rel} exists with other content; refusing to touch it") from None
            await asyncio.to_thread(part.unlink)

    async def commit(self, ingest: dict[str, Any], rel: str, sha256: str, *, good: bool) -> Outcome:
        size = ingest["length"]
        now = utcnow()
        # An upload's ``marked`` and ``recorded_at`` are what its sender claims; a dock copy's were read by the
        # station itself from the camera's own storage.
        trusted_claims = ingest["source"] != "upload"

        def write(tx: Tx) -> Outcome:
            if good and (existing := rows.good_by_sha(tx, sha256)) is not None:
                return self._record_duplicate(tx, ingest, existing)
            device, name = ingest["device_id"], ingest["file_name"]
            facts = accounting.recording_facts(tx, ingest, size, sha256, good=good, trusted_claims=trusted_claims)
            who = accounting.attribute(tx, device, from_iso(facts.recorded_at) if facts.recorded_at else None)
            footage_id = rows.insert(tx, {
                "sha256": sha256, "size": size, "path": rel, "state": "good" if good else "quarantined",
                "device_id": device, "file_name": name, "source": ingest["source"],
                "ingest_id": ingest["id"], "declared_sha256": ingest["declared_sha256"], "marked": int(facts.marked),
                "hold": int(facts.hold_reason is not None), "hold_reason": facts.hold_reason,
                "recorded_at": facts.recorded_at, "recorded_end": facts.recorded_end,
                "recorded_at_station": to_iso(who.recorded_at_station) if who.recorded_at_station else None,
                "clock_offset_ms": who.clock_offset_ms, "officer_no": who.officer_no, "ingested_at": to_iso(now),
                "retain_until": None if facts.hold_reason else to_iso(
                    now + timedelta(days=self._config.routine_retention_days)),
                "uploaded_by": ingest["actor"], "unannounced": int(facts.announcement is None),
                "declared_marked": ingest["marked"], "declared_recorded_at": ingest["recorded_at"],
            })
            details = {"sha256": sha256, "size": size, "device_id": device, "path": rel, "file_name": name,
                       "source": ingest["source"], "ingest_id": ingest["id"], "uploaded_by": ingest["actor"],
                       "announced": facts.announcement is not None}
            if good:
                found = accounting.fulfil_announcement(tx, device_id=device, file_name=name, size=size,
                                                          sha256=sha256, footage_id=footage_id)
                if facts.announcement is None:
                    details["declared"] = {"marked": bool(ingest["marked"]), "recorded_at": ingest["recorded_at"]}
                    if found is not None and found.get("mismatch"):
                        details["announcement_differs"] = {"size_bytes": found["size_bytes"],
                                                           "sha256": found["sha256"]}
                reason = f"{ingest['source']} ingest, SHA-256 verified; {_provenance(facts, trusted_claims)}"
                custody.append(tx, actor=ingest["actor"], action="footage.ingested", subject=f"footage:{footage_id}",
                               reason=reason, details=details, at=now)
                if facts.announcement is not None and facts.announcement["hold_reason"]:
                    custody.append(tx, actor="system:bodycam", action="footage.hold", subject=f"footage:{footage_id}",
                                   reason=f"announced by the camera as {facts.announcement['hold_reason']}")
                if self.cases is not None:
                    self.cases.owed(tx, footage_id)
                entry = OutboxEntry("footage.file", Priority.EVIDENCE if facts.hold_reason else Priority.ROUTINE,
                                    f"footage:{sha256}", file=FileRef(self._layout.path(rel), size, sha256))
                # Bytes stored before and deleted by retention: the old receipt does not confirm this row.
                if not outbox.enqueue(tx, entry):
                    outbox.rearm_file(tx, entry)
                # A mark the camera sent over MQTT before this file arrived (its announcement's are on the row).
                camera_holds.apply(tx, footage_id, cause="the camera's mark_important naming the file, received "
                                                         "before the footage")
            else:
                custody.append(tx, actor=ingest["actor"], action="footage.quarantined",
                               subject=f"footage:{footage_id}",
                               reason=f"SHA-256 mismatch: declared {ingest['declared_sha256']}, received {sha256}",
                               details=details, at=now)
            rows.ingest_update(tx, ingest["id"], state="complete" if good else "quarantined",
                               footage_id=footage_id, received=size)
            return Outcome("complete" if good else "quarantined", footage_id, sha256)

        result = await self._store.write(write)
        self._metrics.ingested.labels(ingest["source"], result.state).inc()
        if result.state == "quarantined":
            log.warning("quarantined %s from %s: hash mismatch", ingest["file_name"], ingest["device_id"])
            await self._alerts.raise_alert(Alert(
                f"footage.quarantined:{ingest['id']}", "footage.quarantined", Severity.WARNING,
                f"device:{ingest['device_id']}",
                f"{ingest['file_name']}: received content does not match the declared SHA-256; kept in quarantine",
                {"footage_id": result.footage_id, "declared": ingest["declared_sha256"], "received": sha256}))
        elif result.state == "complete":
            log.info("ingested %s from %s as footage %d", ingest["file_name"], ingest["device_id"], result.footage_id)
            if self.cases is not None:
                try:  # late footage is matched at once; a failure here leaves the marker for the next start
                    await self.cases.ingested(result.footage_id)
                except Exception:  # the file is safely stored whatever linking does
                    log.exception("case linking of footage %d failed; retried at the next start", result.footage_id)
        if result.state != "duplicate":
            self.schedule_probe(result.footage_id, rel, sha256)
        return result

    async def _duplicate(self, ingest: dict[str, Any], part: Path, existing: dict[str, Any]) -> Outcome:
        result = await self._store.write(lambda tx: self._record_duplicate(tx, ingest, existing))
        # The same bytes are already stored and recorded: this copy is redundant, not evidence.
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(os.unlink, part)
        self._metrics.ingested.labels(ingest["source"], "duplicate").inc()
        return result

    async def declared_duplicate(self, ingest: dict[str, Any], existing: dict[str, Any]) -> Outcome:
        """An upload that declared (SHA-256, length) of content already stored is complete at creation. No byte
        was sent or received, so its custody entry says exactly that and claims no verification."""

        def write(tx: Tx) -> Outcome:
            custody.append(tx, actor=ingest["actor"], action="footage.duplicate_declared",
                           subject=f"footage:{existing['id']}",
                           reason="an upload declared this content's SHA-256 and length; it is already stored, so "
                                  "no bytes were sent or received and nothing was verified",
                           details={"ingest_id": ingest["id"], "file_name": ingest["file_name"],
                                    "device_id": ingest["device_id"], "source": ingest["source"],
                                    "uploaded_by": ingest["actor"], "declared_sha256": ingest["declared_sha256"],
                                    "declared_length": ingest["length"], "bytes_received": 0})
            rows.ingest_update(tx, ingest["id"], state="duplicate", footage_id=existing["id"])
            return Outcome("duplicate", existing["id"], existing["sha256"])

        result = await self._store.write(write)
        self._metrics.ingested.labels(ingest["source"], "duplicate").inc()
        return result

    def _record_duplicate(self, tx: Tx, ingest: dict[str, Any], existing: dict[str, Any]) -> Outcome:
        custody.append(tx, actor=ingest["actor"], action="footage.duplicate_received",
                       subject=f"footage:{existing['id']}",
                       reason="the same content was received again; kept once",
                       details={"ingest_id": ingest["id"], "file_name": ingest["file_name"],
                                "device_id": ingest["device_id"], "source": ingest["source"]})
        rows.ingest_update(tx, ingest["id"], state="duplicate", footage_id=existing["id"], sha256=existing["sha256"],
                           received=ingest["length"])
        return Outcome("duplicate", existing["id"], existing["sha256"])

    # -- probing ---------------------------------------------------------------------------------

    def schedule_probe(self, footage_id: int, rel: str, sha256: str) -> None:
        if self._prober is None:
            return
        task = asyncio.create_task(self._probe(footage_id, rel, sha256), name=f"footage.probe[{footage_id}]")
        self._probes.add(task)
        task.add_done_callback(self._probes.discard)

    async def _probe(self, footage_id: int, rel: str, sha256: str) -> None:
        assert self._prober is not None
        path = self._layout.path(rel)
        started = asyncio.get_running_loop().time()
        try:
            info = await self._prober.probe(path)
            thumb_rel: str | None = self._layout.thumb_rel(sha256)
            if info.damaged or not await self._prober.thumbnail(path, self._layout.path(thumb_rel or "")):
                thumb_rel = None
        except RuntimeError as exc:  # prober closed during shutdown: the row stays pending for next start
            log.info("probe of footage %d deferred: %s", footage_id, exc)
            return
        self._metrics.probe_seconds.observe(asyncio.get_running_loop().time() - started)
        media = {k: v for k, v in dataclasses.asdict(info).items() if k not in ("damaged", "problems", "not_video")}
        # Not video at all (a still image, a sound file, ...) is flagged as such, and kept as received.
        action, kind, what = (("footage.flagged_not_video", "footage.not_video", "is not video")
                              if info.not_video else ("footage.flagged_damaged", "footage.damaged", "is damaged"))

        def write(tx: Tx) -> None:
            rows.set_probe(tx, footage_id, media=media, damaged=info.damaged, problems=list(info.problems),
                           thumbnail=thumb_rel)
            if info.damaged:
                custody.append(tx, actor="system:probe", action=action,
                               subject=f"footage:{footage_id}", reason="; ".join(info.problems) or "damaged",
                               details={"problems": list(info.problems)})

        await self._store.write(write)
        if info.damaged:
            self._metrics.damaged.inc()
            await self._alerts.raise_alert(Alert(
                f"{kind}:{footage_id}", kind, Severity.WARNING, f"footage:{footage_id}",
                f"footage {footage_id} {what} and is kept as received: {'; '.join(info.problems)}",
                {"footage_id": footage_id, "problems": list(info.problems)}))

    async def probe_backlog(self) -> None:
        for row in await self._store.read(rows.pending_probes):
            self.schedule_probe(row["id"], row["path"], row["sha256"])

    async def idle(self) -> None:
        """Wait for running probes (tests and shutdown)."""
        while self._probes:
            await asyncio.gather(*list(self._probes), return_exceptions=True)

    def cancel_probes(self) -> None:
        for task in list(self._probes):
            task.cancel()
