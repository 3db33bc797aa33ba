"""Applying a validated case record: idempotent, revision-ordered, with conflicts refused by name.

Rules (docs/cases.md, "Case feed"): a lower revision than the stored one is stale and ignored (late,
out-of-order delivery); the same revision with the same content is a replay and changes nothing; the same
revision with different content is a conflict and refused; a local case never replaces a central one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edge.cases.records import CaseRecord, Reason, RecordRejected
from edge.store import Tx, custody
from edge.store import cases as rows
from edge.store.outbox import OutboxEntry, Priority, enqueue

Change = Literal["created", "updated", "unchanged", "stale"]
Source = Literal["central", "local"]


@dataclass(frozen=True, slots=True)
class Applied:
    number: str
    revision: int
    change: Change

    @property
    def changed(self) -> bool:
        return self.change in ("created", "updated")


def apply_record(tx: Tx, record: CaseRecord, *, source: Source, actor: str, at: str, station_id: str) -> Applied:
    number, sha = record.number, record.content_sha256()
    version = rows.case_version(tx, number)
    if version is not None:
        revision, stored_sha, stored_source = version
        if source == "local" and stored_source == "central":
            raise RecordRejected(Reason.CONFLICTING_SOURCE,
                                 f"case {number} comes from the central platform; it cannot be changed here")
        if record.revision < revision:
            return Applied(number, record.revision, "stale")
        if record.revision == revision:
            if sha == stored_sha:
                return Applied(number, revision, "unchanged")
            raise RecordRejected(Reason.CONFLICTING_REVISION,
                                 f"case {number} revision {revision} is already stored with different content")
    stored = rows.put_case(tx, record.stored(), source=source, actor=actor, content_sha256=sha, at=at)
    change: Change = "created" if stored == "created" else "updated"
    if source == "local":
        # A case made at the station is a person's act and must reach the central platform.
        custody.append(tx, actor=actor, action=f"case.{change}", subject=f"case:{number}",
                       reason="local case entered at the station", details={"revision": record.revision})
        enqueue(tx, OutboxEntry("case.local", Priority.EVIDENCE, f"case:{station_id}:{number}:{record.revision}",
                                payload={"station_id": station_id, "case": record.stored()}))
    return Applied(number, record.revision, change)
