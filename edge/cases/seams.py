"""Where the case domain meets tables other issues own. Each seam is small on purpose.

Phase 1 ships stand-ins; wiring the real thing is one class each:
- ``OfficerDirectory`` — issue 3's officer register (``known_officers``). Stand-in: the configured list
  (``cases.feed.check_officers``/``officers``), or accept every well-formed number.
- ``FootageSource`` — issue 4's footage rows (officer from issue 3's device assignment at recording time,
  clock-corrected range, GPS fixes from telemetry, ``case_tag`` events). Stand-in: ``MemoryFootage``,
  filled by whoever calls ``CaseDomain.footage_arrived``.
- ``HoldHook`` — issue 4's retention holds: called in the link's own transaction.
- ``ComplianceInputs`` (edge/cases/compliance_service.py) — announced files, dock state, clock offsets,
  sequence gaps, uplink receipts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from typing import Protocol

from edge.cases.config import FeedConfig
from edge.cases.model import FootageFacts
from edge.store import Tx

# (tx, footage id, case number, held): place (held=True) or release a permanent hold for this case.
# Releasing must keep the file held if another case or another reason still holds it.
HoldHook = Callable[[Tx, str, str, bool], None]


class OfficerDirectory(Protocol):
    async def known_officers(self) -> Collection[str] | None:
        """Officer numbers known at this station; None when no register is available (accept all)."""
        ...


class ConfiguredOfficers:
    def __init__(self, config: FeedConfig) -> None:
        self._officers = frozenset(config.officers) if config.check_officers else None

    async def known_officers(self) -> Collection[str] | None:
        return self._officers


class FootageSource(Protocol):
    async def facts(self, footage_ids: Collection[str]) -> list[FootageFacts]:
        """Matching facts of these files (unknown ids are left out)."""
        ...

    def every(self) -> AsyncIterator[FootageFacts]:
        """Every file, at start-up, to fill the matcher's footage index."""
        ...


class MemoryFootage:
    """Phase-1 stand-in: facts kept in memory for the files announced since start."""

    def __init__(self) -> None:
        self._facts: dict[str, FootageFacts] = {}

    def add(self, facts: FootageFacts) -> None:
        self._facts[facts.footage_id] = facts

    def get(self, footage_id: str) -> FootageFacts | None:
        return self._facts.get(footage_id)

    def linked_view(self, footage_ids: Collection[str]) -> list[FootageFacts]:
        return [f for i in footage_ids if (f := self._facts.get(i)) is not None]

    async def facts(self, footage_ids: Collection[str]) -> list[FootageFacts]:
        return self.linked_view(footage_ids)

    async def every(self) -> AsyncIterator[FootageFacts]:
        for facts in list(self._facts.values()):
            yield facts
