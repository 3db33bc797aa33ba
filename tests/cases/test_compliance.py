"""Compliance rules escalate blue -> yellow -> red and clear when resolved; published through the alert bus."""

from __future__ import annotations

from datetime import timedelta

from support.cases import T0, Clock, footage, record

from edge.alerts import AlertBus
from edge.cases import compliance as rules
from edge.cases.compliance import Colour
from edge.cases.compliance_service import ComplianceService
from edge.cases.config import ComplianceConfig
from edge.cases.domain import CaseDomain
from edge.cases.records import CaseRecord
from edge.store import Store
from edge.store import alerts as alert_rows

C = ComplianceConfig()
H = timedelta(hours=1)


def colours(found: list[rules.Finding]) -> list[str]:
    return [f.colour.value for f in found]


def test_deadline_colours() -> None:
    due = T0 + 24 * H
    assert [rules.deadline_colour(due, due - h * H, C) for h in (7, 6, 3, 2, 0.5, 0)] == [
        None, Colour.BLUE, Colour.BLUE, Colour.YELLOW, Colour.YELLOW, Colour.RED]


def test_each_rule_on_plain_inputs() -> None:
    files = [rules.AnnouncedFile("cam-0001", "a.mp4", T0, ingested=False),
             rules.AnnouncedFile("cam-0001", "b.mp4", T0, ingested=True)]
    assert colours(rules.footage_overdue(files, T0 + 23 * H, C)) == ["yellow"]
    assert colours(rules.footage_overdue(files, T0 + 25 * H, C)) == ["red"]
    docks = [rules.DockState("cam-0001", T0), rules.DockState("cam-0002", None)]
    assert colours(rules.camera_undocked(docks, T0 + 7 * H, C)) == ["blue"]
    offsets = [rules.ClockOffset(f"cam-{i}", s) for i, s in enumerate((0.5, -1.5, 4.0, 45.0))]
    assert colours(rules.clock_drift(offsets, C)) == ["blue", "yellow", "red"]
    gap = [rules.SequenceGap("cam-0001", 17, 2, T0)]
    assert [colours(rules.sequence_gaps(gap, T0 + h * H, C)) for h in (0, 2, 7)] == [["blue"], ["yellow"], ["red"]]
    link = [rules.AwaitingReceipt("F-1", "C-0001", T0)]
    assert colours(rules.unconfirmed_links(link, T0 + 7 * H, C)) == ["red"]
    found = rules.clock_drift(offsets, C)[2]
    assert found.kind == "compliance.clock_drift" and found.details["colour"] == "red"


async def test_officer_without_footage_escalates_and_clears(store: Store, clock: Clock, domain: CaseDomain) -> None:
    bus = AlertBus("ST-1", store)
    service = ComplianceService(domain, bus, C, clock=clock)
    rec = record("C-0001", ["100001", "100002"], T0, T0 + H)
    await domain.save_record(CaseRecord.model_validate(rec), source="central", actor="feed:test")
    await domain.footage_arrived(footage("F-1", "100001", T0 + 0.2 * H, 20))  # officer 1 covered, 2 not
    seen = []
    for hours in (10, 20, 23.5, 26):
        clock.now = T0 + hours * H
        seen.append(colours(await service.run_once()))
    assert seen == [[], ["blue"], ["yellow"], ["red"]]
    [active] = await store.read(lambda q: alert_rows.listing(q, active_only=True, kind=None, subject=None, limit=10))
    assert active["severity"] == "critical" and active["details"]["colour"] == "red"
    assert active["details"]["officer_no"] == "100002" and active["subject"] == "case:C-0001"
    assert [h["severity"] for h in active["history"]] == ["info", "warning", "critical"]
    await domain.footage_arrived(footage("F-2", "100002", T0 + 0.5 * H, 10))  # late footage arrives: resolved
    assert await service.run_once() == []
    [cleared] = await store.read(lambda q: alert_rows.listing(q, active_only=False, kind=None, subject=None,
                                                              limit=10))
    assert cleared["cleared_reason"] == "resolved" and cleared["history"][-1]["change"] == "cleared"
