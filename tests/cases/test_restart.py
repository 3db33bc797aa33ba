"""Crash between applying a case revision and re-linking: the durable marker makes the next start finish it."""

from __future__ import annotations

from datetime import timedelta

from support.cases import T0, Clock, footage, record

from edge.cases.config import CasesConfig
from edge.cases.domain import CaseDomain
from edge.cases.records import check
from edge.cases.registry import apply_record
from edge.cases.seams import MemoryFootage
from edge.store import Store, Tx
from edge.store import case_sources as markers
from edge.store import cases as rows

H = timedelta(hours=1)


async def test_a_case_applied_but_not_relinked_is_relinked_at_start(store: Store, clock: Clock) -> None:
    files = MemoryFootage()
    files.add(footage("7", "100001", T0 + timedelta(minutes=5), 20))
    raw = record("C-0001", ["100001"], T0, T0 + H)

    def applied_then_crashed(tx: Tx) -> None:
        # What apply_page commits before it re-links: the record, and the marker in the same transaction.
        apply_record(tx, check(raw, max_window=72 * H, known_officers=None), source="central", actor="feed:t",
                     at="2024-06-01T08:00:00.000000Z", station_id="ST-1")
        markers.mark_pending(tx, "case", "C-0001", "2024-06-01T08:00:00.000000Z")

    await store.write(applied_then_crashed)
    domain = CaseDomain(store, CasesConfig(), "ST-1", footage=files, clock=clock)
    async with domain:  # start-up: load the indexes, then finish what the marker says
        pass
    [link] = await store.read(lambda q: rows.links_for_footage(q, "7"))
    assert link["state"] == "linked" and link["case_number"] == "C-0001"
    assert await store.read(markers.pending) == []


async def test_footage_owed_a_match_is_matched_at_start(store: Store, clock: Clock) -> None:
    files = MemoryFootage()
    domain = CaseDomain(store, CasesConfig(), "ST-1", footage=files, clock=clock)
    await domain.save_record(check(record("C-0002", ["100002"], T0, T0 + H), max_window=72 * H,
                                   known_officers=None), source="local", actor="supervisor:t")
    files.add(footage("8", "100002", T0 + timedelta(minutes=10), 15))
    await store.write(lambda tx: CaseDomain.footage_pending(tx, 8))  # ingest committed, then the crash
    assert await store.read(markers.pending) == [("footage", "8")]
    async with CaseDomain(store, CasesConfig(), "ST-1", footage=files, clock=clock):
        pass
    assert [link["state"] for link in await store.read(lambda q: rows.links_for_footage(q, "8"))] == ["linked"]
    assert await store.read(markers.pending) == []
