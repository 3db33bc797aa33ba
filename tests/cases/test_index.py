"""The indexed lookup finds exactly what a full scan finds, and re-linking finds the files a case touches."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from edge.cases.config import MatchingConfig
from edge.cases.engine import Matcher
from edge.cases.matching import decide, span
from edge.cases.model import CaseFacts, FootageFacts, Window

S = MatchingConfig()
T = datetime(2024, 6, 1, tzinfo=UTC)


def world(rng: random.Random) -> tuple[list[CaseFacts], list[FootageFacts]]:
    officers = [f"{100000 + i}" for i in range(20)]
    cases = []
    for n in range(300):
        start = T + timedelta(minutes=rng.uniform(0, 48 * 60))
        end = None if rng.random() < 0.1 else start + timedelta(minutes=rng.uniform(5, 600))
        cases.append(CaseFacts(f"C{n:04d}", frozenset(rng.sample(officers, rng.randint(1, 3))), (Window(start, end),)))
    files = []
    for n in range(2000):
        start = T + timedelta(minutes=rng.uniform(-60, 50 * 60))
        tags = frozenset({f"C{rng.randrange(300):04d}"}) if rng.random() < 0.02 else frozenset()
        files.append(FootageFacts(f"F{n:05d}", rng.choice(officers), start,
                                  start + timedelta(minutes=rng.uniform(0.5, 240)), (), tags))
    return cases, files


def test_index_lookup_equals_full_scan() -> None:
    cases, files = world(random.Random(5))
    matcher = Matcher(S)
    for case in cases:
        matcher.cases.upsert(case)
    for item in files:
        assert matcher.link(item) == decide(item, cases, S), item.footage_id


def test_affected_footage_equals_full_scan_and_updates_replace_old_windows() -> None:
    cases, files = world(random.Random(6))
    matcher = Matcher(S)
    for item in files:
        matcher.link(item)
    for case in cases[:50]:
        affected = matcher.upsert_case(case)
        spans = [span(w, S) for w in case.windows]
        expected = {f.footage_id for f in files if case.number in f.case_tags or (
            f.officer_no in case.officers and any(f.end.timestamp() > lo and f.start.timestamp() < hi
                                                  for lo, hi in spans))}
        assert affected == expected
    moved = CaseFacts(cases[0].number, cases[0].officers, (Window(T + timedelta(days=30), None),))
    matcher.upsert_case(moved)
    assert matcher.cases.candidates(next(iter(cases[0].officers)), T.timestamp(), (T + timedelta(days=3)).timestamp()
                                    ).count(cases[0]) == 0


def test_the_same_file_announced_twice_is_indexed_once() -> None:
    matcher = Matcher(S)
    item = FootageFacts("F1", "100001", T, T + timedelta(minutes=5))
    matcher.link(item)
    matcher.link(item)
    assert matcher.footage.count == 1
    assert matcher.footage.in_range("100001", T.timestamp(), T.timestamp() + 60) == ["F1"]
