"""The matcher: indexes plus decision rules. Pure and in memory; the linker persists what it decides.

``link`` handles one new file; ``relink`` handles a new or changed case (late dispatch data): it finds
the footage in the case's buffered windows and re-decides each of those files against *all* its
candidates, because a new case can turn an old clear link into a close call.
"""

from __future__ import annotations

from collections.abc import Iterable

from edge.cases.config import MatchingConfig
from edge.cases.index import CaseIndex, FootageIndex
from edge.cases.matching import Decision, decide, span
from edge.cases.model import CaseFacts, FootageFacts


class Matcher:
    def __init__(self, settings: MatchingConfig) -> None:
        self.settings = settings
        self.cases = CaseIndex(settings)
        self.footage = FootageIndex()

    def candidates(self, footage: FootageFacts) -> list[CaseFacts]:
        found = {c.number: c for c in self.cases.candidates(
            footage.officer_no, footage.start.timestamp(), footage.end.timestamp())}
        for tag in footage.case_tags:  # a tag names a case whatever the officer and time say
            case = self.cases.get(tag)
            if case is not None:
                found.setdefault(tag, case)
        return list(found.values())

    def link(self, footage: FootageFacts) -> list[Decision]:
        """Index a new (or re-announced) file and decide it."""
        self.footage.add(footage.footage_id, footage.officer_no, footage.start.timestamp(),
                         footage.end.timestamp(), footage.case_tags)
        return decide(footage, self.candidates(footage), self.settings)

    def decide(self, footage: FootageFacts) -> list[Decision]:
        return decide(footage, self.candidates(footage), self.settings)

    def affected_footage(self, case: CaseFacts) -> set[str]:
        ids = self.footage.tagged(case.number)
        for window in case.windows:
            lo, hi = span(window, self.settings)
            for officer in case.officers:
                ids.update(self.footage.in_range(officer, lo, hi))
        return ids

    def upsert_case(self, case: CaseFacts, also: Iterable[str] = ()) -> set[str]:
        """Add or change a case; return every file it (or its previous version) could touch.

        The caller fetches those files' facts and calls ``decide`` on each: the facts of a million
        files are not kept in memory. ``also`` names files already linked to the case (the linker knows
        them from the store), so that a case whose window moved away releases them.
        """
        previous = self.cases.upsert(case)
        affected = self.affected_footage(case) | set(also)
        if previous is not None:
            affected |= self.affected_footage(previous)
        return affected
