"""Linking at station scale: 1,000,000 footage files, 10,000 open cases, 500 officers (synthetic, seeded).

Figures, each beside a naive full-scan baseline measured in the same run:
- link one new file: index lookup + decision (ours) vs scanning every case (baseline), p50 and p99;
- re-link after a late case: find the files in its windows and decide each (ours) vs scanning every file.
Prints ``name: ours X, baseline Y, ratio Z``.
"""

from __future__ import annotations

import random
import resource
import statistics
import sys
import time
from array import array
from datetime import UTC, datetime, timedelta

from edge.cases.config import MatchingConfig
from edge.cases.engine import Matcher
from edge.cases.matching import decide, span
from edge.cases.model import CaseFacts, FootageFacts, Place, TrackPoint, Window

FILES, CASES, OFFICERS = 1_000_000, 10_000, 500
DAYS = 30
SAMPLES, LATE_SAMPLES, BASE_LATE = 2000, 50, 5
T0 = datetime(2024, 6, 1, tzinfo=UTC).timestamp()
S = MatchingConfig()
LAT, LON = 22.5431, 114.0579


def officers() -> list[str]:
    return [f"{100000 + i}" for i in range(OFFICERS)]


def make_cases(rng: random.Random, who: list[str]) -> list[CaseFacts]:
    out = []
    for n in range(CASES):
        start = T0 + rng.uniform(0, DAYS * 86400)
        end = start + rng.uniform(600, 4 * 3600)
        place = Place(LAT + rng.uniform(-0.03, 0.03), LON + rng.uniform(-0.03, 0.03), 300.0)
        out.append(CaseFacts(f"C{n:06d}", frozenset(rng.sample(who, rng.randint(1, 3))),
                             (Window(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)),), place))
    return out


class Files:
    """A million files as flat columns (officer index, start, end); facts are made on demand."""

    def __init__(self, rng: random.Random, who: list[str]) -> None:
        self.who = who
        self.officer = array("H", (rng.randrange(OFFICERS) for _ in range(FILES)))
        self.start = array("d", (T0 + rng.uniform(0, DAYS * 86400) for _ in range(FILES)))
        self.end = array("d", (s + rng.uniform(30, 3600) for s in self.start))

    def facts(self, i: int) -> FootageFacts:
        start, end = datetime.fromtimestamp(self.start[i], UTC), datetime.fromtimestamp(self.end[i], UTC)
        track = tuple(TrackPoint(start + timedelta(seconds=k * 60), LAT, LON) for k in range(3))
        return FootageFacts(f"F{i:07d}", self.who[self.officer[i]], start, end, track)


def pct(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(p * len(values)))]


def main() -> int:
    rng = random.Random(20240601)
    who = officers()
    cases = make_cases(rng, who)
    files = Files(rng, who)
    matcher = Matcher(S)
    for case in cases:
        matcher.cases.upsert(case)
    build = time.perf_counter()
    order = sorted(range(FILES), key=lambda i: (files.officer[i], files.start[i]))
    by_officer: dict[int, list[int]] = {}
    for i in order:
        by_officer.setdefault(files.officer[i], []).append(i)
    for officer_index, items in by_officer.items():
        matcher.footage.extend_sorted(who[officer_index], ((files.start[i], files.end[i], f"F{i:07d}") for i in items))
    del order, by_officer
    print(f"# indexed {FILES:,} files and {CASES:,} cases in {time.perf_counter() - build:.1f} s", file=sys.stderr)

    # 1. link one new file
    probes = [files.facts(rng.randrange(FILES)) for _ in range(SAMPLES)]
    ours, base = [], []
    linked = 0
    for item in probes:
        t = time.perf_counter()
        decisions = matcher.link(item)
        ours.append(time.perf_counter() - t)
        linked += bool(decisions)
    for item in probes[: SAMPLES // 4]:
        t = time.perf_counter()
        decide(item, cases, S)
        base.append(time.perf_counter() - t)
    for item in probes[:200]:
        assert matcher.decide(item) == decide(item, cases, S)
    for name, p in (("p50", 0.5), ("p99", 0.99)):
        o, b = pct(ours, p) * 1000, pct(base, p) * 1000
        print(f"link_one_file_{name}: ours {o:.3f} ms, baseline {b:.3f} ms, ratio {b / o:.0f}x")
    print(f"# {linked}/{SAMPLES} probe files had candidates; p99 target < 5 ms: "
          f"{'met' if pct(ours, 0.99) * 1000 < 5 else 'MISSED'}", file=sys.stderr)

    # 2. re-link after a late case
    ours, base = [], []
    touched = []
    late_cases = make_cases(random.Random(7), who)[:LATE_SAMPLES]
    for n, late in enumerate(late_cases):
        late = CaseFacts(f"LATE{n:04d}", late.officers, late.windows, late.place)
        t = time.perf_counter()
        affected = matcher.upsert_case(late)
        for footage_id in affected:
            matcher.decide(files.facts(int(footage_id[1:])))
        ours.append(time.perf_counter() - t)
        touched.append(len(affected))
        if n < BASE_LATE:
            t = time.perf_counter()
            spans = [span(w, S) for w in late.windows]
            officer_ids = {who.index(o) for o in late.officers}
            found = [i for i in range(FILES) if files.officer[i] in officer_ids
                     and any(files.end[i] > lo and files.start[i] < hi for lo, hi in spans)]
            for i in found:
                decide(files.facts(i), [*cases, late], S)
            base.append(time.perf_counter() - t)
            assert {f"F{i:07d}" for i in found} == affected
    o, b = statistics.median(ours) * 1000, statistics.median(base) * 1000
    print(f"relink_late_case_p50: ours {o:.3f} ms, baseline {b:.1f} ms, ratio {b / o:.0f}x")
    print(f"# late cases touched {statistics.median(touched):.0f} files (median); "
          f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
