"""The case domain's face to the daemon: registry writes, auto-linking, and people's link decisions.

One instance per daemon (a supervised service: entering it loads the stored cases into the matcher).
Footage ingest (issue 4) calls ``footage_ingested`` after its row committed; the feed and the API call
``save_record``/``apply_page``; all end in ``_relink``/``apply_machine`` under one lock, so two decisions
about the same file never interleave.

Crash safety: the cause (a new case revision, an ingested file) writes a relink marker in its own
transaction (edge/store/case_sources.py, migration 0401); the transaction storing the decisions removes
it; at start-up, after the indexes are filled, every marker left over is linked again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edge.cases import links
from edge.cases.config import CasesConfig
from edge.cases.engine import Matcher
from edge.cases.links import Effects, LinkChange
from edge.cases.model import FootageFacts
from edge.cases.records import CaseRecord, RecordRejected, check, facts
from edge.cases.registry import Applied, Source, apply_record
from edge.cases.seams import ConfiguredOfficers, FootageSource, HoldHook, MemoryFootage, OfficerDirectory
from edge.store import Store, Tx, deadletter
from edge.store import case_sources as pending
from edge.store import cases as rows
from edge.store.canonical import canonical_json
from edge.supervisor import Service
from edge.timeutil import to_iso, utcnow

log = logging.getLogger(__name__)


@dataclass
class PageResult:
    applied: list[Applied] = field(default_factory=list)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (index in page, reason, detail)


class CaseDomain(Service):
    name = "cases"

    def __init__(self, store: Store, config: CasesConfig, station_id: str, *,
                 footage: FootageSource | None = None, officers: OfficerDirectory | None = None,
                 hold: HoldHook | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.config = config
        self.station_id = station_id
        self.footage: FootageSource = footage or MemoryFootage()
        # Phase 1: without issue 4's footage table, files announced to us are remembered here.
        self.memory = self.footage if isinstance(self.footage, MemoryFootage) else None
        self.officers: OfficerDirectory = officers or ConfiguredOfficers(config.feed)
        self.matcher = Matcher(config.matching)
        self._hold = hold
        self._clock = clock
        self._lock = asyncio.Lock()
        self.loaded = False
        self._ready = asyncio.Event()  # set once the indexes are filled

    async def __aenter__(self) -> CaseDomain:
        await self.load()
        await self.recover()
        return self

    async def recover(self) -> int:
        """Finish the linking a crash interrupted (relink markers left in the store)."""
        left = await self.store.read(pending.pending)
        for kind, key in left:
            if kind == "case":
                await self._relink(key)
            else:
                await self.footage_ingested(key)
        if left:
            log.info("cases: re-linked %d item(s) left pending by the last run", len(left))
        return len(left)

    async def load(self) -> None:
        """Fill the matcher from the store (cases) and the footage source (files)."""
        records = await self.store.read(lambda q: list(rows.all_records(q)))
        self.matcher = Matcher(self.config.matching)
        for record in records:
            self.matcher.cases.upsert(facts(record))
        async for item in self.footage.every():
            self.matcher.footage.add(item.footage_id, item.officer_no, item.start.timestamp(),
                                     item.end.timestamp(), item.case_tags)
        self.loaded = True
        self._ready.set()
        log.info("cases: %d cases and %d footage files indexed", len(self.matcher.cases), self.matcher.footage.count)

    def effects(self) -> Effects:
        return Effects(self.station_id, to_iso(self._clock()), self._hold)

    # -- machine ---------------------------------------------------------------------------------

    @staticmethod
    def footage_pending(tx: Tx, footage_id: int | str) -> None:
        """Called inside the footage ingest's transaction: this file is owed a matching run."""
        pending.mark_pending(tx, "footage", str(footage_id), to_iso(utcnow()))

    async def footage_ingested(self, footage_id: int | str) -> list[LinkChange]:
        """Link one ingested file by id (the footage domain calls this after its row committed)."""
        if not self._ready.is_set():  # still starting: recover() picks the file up from its marker
            return []
        found = await self.footage.facts([str(footage_id)])
        if not found:  # not matchable (quarantined, no recording time): nothing is owed any more
            await self.store.write(lambda tx: pending.clear_pending(tx, "footage", str(footage_id)))
            return []
        return await self.footage_arrived(found[0])

    async def footage_arrived(self, item: FootageFacts) -> list[LinkChange]:
        """Link one new (or late) file."""
        if self.memory is not None:
            self.memory.add(item)
        async with self._lock:
            decisions = self.matcher.link(item)
            fx = self.effects()

            def write(tx: Tx) -> list[LinkChange]:
                pending.clear_pending(tx, "footage", item.footage_id)
                return links.apply_machine(tx, item.footage_id, decisions, fx)

            return await self.store.write(write)

    async def _relink(self, number: str) -> list[LinkChange]:
        record = await self.store.read(lambda q: rows.case_record(q, number))
        if record is None:
            await self.store.write(lambda tx: pending.clear_pending(tx, "case", number))
            return []
        linked = await self.store.read(lambda q: [
            link["footage_id"] for link in rows.links_for_case(q, number, states=("linked", "review"))])
        async with self._lock:
            affected = self.matcher.upsert_case(facts(record), also=linked)
            items = await self.footage.facts(sorted(affected))
            decided = [(item.footage_id, self.matcher.decide(item)) for item in items]
            fx = self.effects()

            def write(tx: Tx) -> list[LinkChange]:
                pending.clear_pending(tx, "case", number)
                return [c for footage_id, ds in decided for c in links.apply_machine(tx, footage_id, ds, fx)]

            return await self.store.write(write)

    # -- registry --------------------------------------------------------------------------------

    async def save_record(self, record: CaseRecord, *, source: Source, actor: str) -> tuple[Applied, list[LinkChange]]:
        at = to_iso(self._clock())
        def write(tx: Tx) -> Applied:
            applied = apply_record(tx, record, source=source, actor=actor, at=at, station_id=self.station_id)
            if applied.changed:
                pending.mark_pending(tx, "case", applied.number, at)
            return applied

        applied = await self.store.write(write)
        return applied, (await self._relink(record.number) if applied.changed else [])

    async def apply_page(self, raws: Sequence[Any], *, feed: str, channel: str, cursor: str, etag: str | None
                         ) -> PageResult:
        """Apply a feed page record by record; refused records become dead letters; the cursor moves on.

        All in one transaction, so a crash never leaves the cursor ahead of what was applied.
        """
        known: Collection[str] | None = await self.officers.known_officers()
        max_window = self.config.feed.max_window
        at = to_iso(self._clock())
        actor = f"feed:{feed}"

        def write(tx: Tx) -> PageResult:
            result = PageResult()
            for index, raw in enumerate(raws):
                try:
                    record = check(raw, max_window=max_window, known_officers=known)
                    applied = apply_record(tx, record, source="central", actor=actor, at=at,
                                           station_id=self.station_id)
                    if applied.changed:  # owed a re-link: a crash before it is finished at start-up
                        pending.mark_pending(tx, "case", applied.number, at)
                    result.applied.append(applied)
                except RecordRejected as exc:
                    result.rejected.append((index, exc.reason.value, exc.detail))
                    deadletter.record(tx, source="feed", channel=channel, reason=exc.reason.value,
                                      detail=exc.detail, payload=_bytes(raw))
            rows.set_feed_state(tx, feed, cursor, etag, at)
            return result

        result = await self.store.write(write)
        for index, reason, _ in result.rejected:
            log.warning("case feed record %d refused: %s", index, reason, extra={"feed": feed})
        for applied in result.applied:
            if applied.changed:
                await self._relink(applied.number)
        return result

    # -- people ----------------------------------------------------------------------------------

    async def link_by_hand(self, *, footage_id: str, case_number: str, actor: str, reason: str) -> LinkChange:
        fx = self.effects()
        return await self.store.write(lambda tx: links.link_by_hand(
            tx, fx, footage_id=footage_id, case_number=case_number, actor=actor, reason=reason))

    async def unlink_by_hand(self, *, footage_id: str, case_number: str, actor: str, reason: str) -> LinkChange:
        fx = self.effects()
        return await self.store.write(lambda tx: links.unlink_by_hand(
            tx, fx, footage_id=footage_id, case_number=case_number, actor=actor, reason=reason))

    async def resolve_review(self, *, item_id: int, confirm: bool, actor: str, reason: str) -> LinkChange:
        fx = self.effects()
        return await self.store.write(lambda tx: links.resolve_review(
            tx, fx, item_id=item_id, confirm=confirm, actor=actor, reason=reason))


def _bytes(raw: Any) -> bytes:
    try:
        return canonical_json(raw).encode()
    except (TypeError, ValueError):
        return repr(raw).encode()
