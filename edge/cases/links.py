"""Writing link decisions: the link row, its history, a review item, a custody entry, an outbox entry and
the retention hold, all in the caller's transaction.

The one rule that matters most: a person's decision (link, unlink, confirm, reject) is never overwritten
by the machine. Machine decisions may be revised by the machine when cases or footage change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edge.cases.matching import Decision, Outcome
from edge.cases.seams import HoldHook
from edge.store import Tx, custody
from edge.store import cases as rows
from edge.store.outbox import OutboxEntry, Priority, enqueue

MACHINE_ACTOR = "system:case-linker"
_ACTION = {"linked": "case.link", "review": "case.review", "rejected": "case.reject", "unlinked": "case.unlink"}


class LinkRefused(Exception):
    """A person's link action that cannot be done; ``slug`` and ``status`` map to a problem document."""

    def __init__(self, status: int, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail


@dataclass(frozen=True, slots=True)
class LinkChange:
    footage_id: str
    case_number: str
    state: str
    decided_by: str
    rule: str


@dataclass(frozen=True, slots=True)
class Effects:
    station_id: str
    at: str
    hold: HoldHook | None = None


def _write(tx: Tx, fx: Effects, *, footage_id: str, case_number: str, state: str, decided_by: str, actor: str,
           provenance: Mapping[str, Any], reason: str, was: str | None) -> LinkChange:
    link_id, history_id = rows.set_link(tx, footage_id=footage_id, case_number=case_number, state=state,
                                        decided_by=decided_by, actor=actor, provenance=provenance, at=fx.at)
    if state == "review":
        rows.open_review(tx, link_id=link_id, footage_id=footage_id, case_number=case_number, at=fx.at)
    else:
        closing = {"linked": "confirmed", "rejected": "rejected"}.get(state, "withdrawn")
        if decided_by == "machine":
            closing = "withdrawn"
        rows.close_review(tx, link_id=link_id, state=closing, actor=actor, note=reason, at=fx.at)
    custody.append(tx, actor=actor, action=_ACTION[state], subject=f"footage:{footage_id}", reason=reason,
                   details={"case": case_number, "state": state, "was": was, "decided_by": decided_by,
                            "rule": provenance.get("rule")})
    enqueue(tx, OutboxEntry("case.link", Priority.EVIDENCE, f"case-link:{fx.station_id}:{history_id}", payload={
        "v": 1, "station_id": fx.station_id, "footage_id": footage_id, "case_number": case_number, "state": state,
        "decided_by": decided_by, "actor": actor, "provenance": dict(provenance), "decided_at": fx.at,
    }))
    if fx.hold is not None and (state == "linked") != (was == "linked"):
        fx.hold(tx, footage_id, case_number, state == "linked")
    return LinkChange(footage_id, case_number, state, decided_by, str(provenance.get("rule", "")))


def _machine_state(outcome: Outcome) -> str:
    return {Outcome.LINKED: "linked", Outcome.REVIEW: "review", Outcome.NONE: "unlinked"}[outcome]


def apply_machine(tx: Tx, footage_id: str, decisions: Sequence[Decision], fx: Effects) -> list[LinkChange]:
    """Store the machine's decisions for one file; withdraw its machine links to cases no longer candidates."""
    existing = {link["case_number"]: link for link in rows.links_for_footage(tx, footage_id)}
    changes: list[LinkChange] = []
    decided = {d.case_number for d in decisions}
    for decision in decisions:
        link = existing.get(decision.case_number)
        if link is not None and link["decided_by"] == "person":
            continue  # never overwrite a person
        state = _machine_state(decision.outcome)
        was = None if link is None else link["state"]
        if state == "unlinked" and was in (None, "unlinked"):
            continue  # nothing was there; no need to record a non-link
        if state == was:
            continue
        provenance = {**decision.provenance(), "actor": MACHINE_ACTOR, "decided_at": fx.at}
        changes.append(_write(tx, fx, footage_id=footage_id, case_number=decision.case_number, state=state,
                              decided_by="machine", actor=MACHINE_ACTOR, provenance=provenance,
                              reason=f"auto-linking: {decision.rule}", was=was))
    for number, link in existing.items():
        if number in decided or link["decided_by"] == "person" or link["state"] not in ("linked", "review"):
            continue
        provenance = {"rule": "no_longer_a_candidate", "actor": MACHINE_ACTOR, "decided_at": fx.at}
        changes.append(_write(tx, fx, footage_id=footage_id, case_number=number, state="unlinked",
                              decided_by="machine", actor=MACHINE_ACTOR, provenance=provenance,
                              reason="auto-linking: no_longer_a_candidate", was=link["state"]))
    return changes


def _person(tx: Tx, fx: Effects, footage_id: str, case_number: str, state: str, actor: str, rule: str,
            reason: str) -> LinkChange:
    link = rows.get_link(tx, footage_id, case_number)
    was = None if link is None else link["state"]
    provenance: dict[str, Any] = {"rule": rule, "actor": actor, "reason": reason, "decided_at": fx.at}
    if link is not None and link["decided_by"] == "machine":
        provenance["machine"] = link["provenance"]  # what the machine had said, for the record
    return _write(tx, fx, footage_id=footage_id, case_number=case_number, state=state, decided_by="person",
                  actor=actor, provenance=provenance, reason=reason, was=was)


def link_by_hand(tx: Tx, fx: Effects, *, footage_id: str, case_number: str, actor: str, reason: str) -> LinkChange:
    if rows.case_version(tx, case_number) is None:
        raise LinkRefused(404, "case-not-found", f"no case {case_number}")
    link = rows.get_link(tx, footage_id, case_number)
    if link is not None and link["state"] == "linked" and link["decided_by"] == "person":
        raise LinkRefused(409, "already-linked", f"footage {footage_id} is already linked to {case_number} by hand")
    return _person(tx, fx, footage_id, case_number, "linked", actor, "linked_by_hand", reason)


def unlink_by_hand(tx: Tx, fx: Effects, *, footage_id: str, case_number: str, actor: str, reason: str
                   ) -> LinkChange:
    link = rows.get_link(tx, footage_id, case_number)
    if link is None or link["state"] not in ("linked", "review"):
        raise LinkRefused(404, "link-not-found", f"footage {footage_id} is not linked to {case_number}")
    return _person(tx, fx, footage_id, case_number, "unlinked", actor, "unlinked_by_hand", reason)


def resolve_review(tx: Tx, fx: Effects, *, item_id: int, confirm: bool, actor: str, reason: str) -> LinkChange:
    item = rows.get_review(tx, item_id)
    if item is None:
        raise LinkRefused(404, "review-item-not-found", f"no review item {item_id}")
    if item["state"] != "open":
        raise LinkRefused(409, "review-item-resolved", f"review item {item_id} is already {item['state']}")
    state, rule = ("linked", "confirmed_in_review") if confirm else ("rejected", "rejected_in_review")
    return _person(tx, fx, item["footage_id"], item["case_number"], state, actor, rule, reason)
