"""In-memory candidate lookup, so that linking one file costs a few bisects, not a scan.

Cases are indexed by officer and buffered window (each officer has a few dozen intervals); footage by
officer and clock-corrected start, in flat ``array('d')`` columns (1,000,000 files fit in ~100 MB), for
re-linking when a case arrives late. Every lookup bounds its scan with the longest interval seen for that
officer, so a query touches only intervals that can overlap.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

from edge.cases.config import MatchingConfig
from edge.cases.matching import span
from edge.cases.model import CaseFacts


@dataclass(slots=True)
class _CaseIntervals:
    starts: list[float] = field(default_factory=list)
    items: list[tuple[float, float, str]] = field(default_factory=list)  # (lo, hi, number), by lo
    longest: float = 0.0


class CaseIndex:
    def __init__(self, settings: MatchingConfig) -> None:
        self.settings = settings
        self._cases: dict[str, CaseFacts] = {}
        self._by_officer: dict[str, _CaseIntervals] = {}

    def __len__(self) -> int:
        return len(self._cases)

    def get(self, number: str) -> CaseFacts | None:
        return self._cases.get(number)

    def all(self) -> Iterable[CaseFacts]:
        return self._cases.values()

    def upsert(self, case: CaseFacts) -> CaseFacts | None:
        """Add or replace a case; returns the previous version (its footage may need re-linking)."""
        previous = self.remove(case.number)
        self._cases[case.number] = case
        if not case.matchable:
            return previous
        for window in case.windows:
            lo, hi = span(window, self.settings)
            for officer in case.officers:
                intervals = self._by_officer.setdefault(officer, _CaseIntervals())
                at = bisect.bisect_right(intervals.starts, lo)
                intervals.starts.insert(at, lo)
                intervals.items.insert(at, (lo, hi, case.number))
                intervals.longest = max(intervals.longest, hi - lo)
        return previous

    def remove(self, number: str) -> CaseFacts | None:
        case = self._cases.pop(number, None)
        if case is None:
            return None
        for officer in case.officers:
            intervals = self._by_officer.get(officer)
            if intervals is None:
                continue
            keep = [item for item in intervals.items if item[2] != number]
            intervals.items = keep
            intervals.starts = [item[0] for item in keep]
        return case

    def candidates(self, officer: str | None, start: float, end: float) -> list[CaseFacts]:
        """Cases on which ``officer`` is involved with a buffered window overlapping [start, end]."""
        intervals = self._by_officer.get(officer) if officer is not None else None
        if intervals is None:
            return []
        first = bisect.bisect_left(intervals.starts, start - intervals.longest)
        last = bisect.bisect_left(intervals.starts, end)
        numbers = {n for lo, hi, n in intervals.items[first:last] if hi > start}
        return [self._cases[n] for n in sorted(numbers)]


@dataclass(slots=True)
class _FootageColumns:
    starts: array[float] = field(default_factory=lambda: array("d"))
    ends: array[float] = field(default_factory=lambda: array("d"))
    ids: list[str] = field(default_factory=list)
    longest: float = 0.0


class FootageIndex:
    """Footage by officer and time. Only what lookups need; the full facts come from a catalog."""

    def __init__(self) -> None:
        self._by_officer: dict[str, _FootageColumns] = {}
        self._tagged: dict[str, set[str]] = {}  # case number -> footage ids whose case_tag names it
        self.count = 0

    def add(self, footage_id: str, officer: str | None, start: float, end: float,
            case_tags: Iterable[str] = ()) -> None:
        for tag in case_tags:
            self._tagged.setdefault(tag, set()).add(footage_id)
        if officer is None:
            return
        cols = self._by_officer.setdefault(officer, _FootageColumns())
        at = bisect.bisect_right(cols.starts, start)
        # Idempotent: the same file announced twice (redelivery) is indexed once.
        probe = at - 1
        while probe >= 0 and cols.starts[probe] == start:
            if cols.ids[probe] == footage_id:
                return
            probe -= 1
        cols.starts.insert(at, start)
        cols.ends.insert(at, end)
        cols.ids.insert(at, footage_id)
        cols.longest = max(cols.longest, end - start)
        self.count += 1

    def extend_sorted(self, officer: str, rows: Iterable[tuple[float, float, str]]) -> None:
        """Bulk load (start-up, benchmarks): rows must come sorted by start."""
        cols = self._by_officer.setdefault(officer, _FootageColumns())
        for start, end, footage_id in rows:
            cols.starts.append(start)
            cols.ends.append(end)
            cols.ids.append(footage_id)
            cols.longest = max(cols.longest, end - start)
            self.count += 1

    def in_range(self, officer: str, lo: float, hi: float) -> list[str]:
        cols = self._by_officer.get(officer)
        if cols is None:
            return []
        first = bisect.bisect_left(cols.starts, lo - cols.longest)
        last = bisect.bisect_left(cols.starts, hi)
        return [cols.ids[i] for i in range(first, last) if cols.ends[i] > lo]

    def tagged(self, number: str) -> set[str]:
        return set(self._tagged.get(number, ()))
