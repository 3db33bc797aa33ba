"""Explainable scoring of footage against cases, and the decision rules. Pure: facts in, decisions out.

docs/cases.md states the rules with worked examples; tests/cases/test_docs_examples.py checks that the
examples there give exactly the decisions written beside them.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from edge.cases.config import MatchingConfig
from edge.cases.model import CaseFacts, FootageFacts, Place, TrackPoint, Window, WindowLabel

_EARTH_RADIUS_M = 6_371_000.0
# Candidates "share" footage when their overlaps with it intersect by at least this share of the smaller.
_SHARED = 0.5


class Outcome(enum.StrEnum):
    LINKED = "linked"
    REVIEW = "review"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Score:
    time: float  # 0..1: overlap against min(footage, window, substantial_overlap_s)
    place: float | None  # 0..1, None when the case has no place or the footage no track
    distance_m: float | None
    overlap_s: float
    overlap: tuple[float, float]  # epoch seconds of the overlap with the buffered window
    window: str  # label of the window that gave the best overlap
    tagged: bool
    total: float


@dataclass(frozen=True, slots=True)
class Decision:
    footage_id: str
    case_number: str
    outcome: Outcome
    rule: str
    score: Score
    competing: tuple[str, ...] = ()

    def provenance(self) -> dict[str, Any]:
        """What is stored with the link: enough to explain the decision to a person later."""
        s = self.score
        return {
            "rule": self.rule,
            "score": round(s.total, 4),
            "components": {
                "time": round(s.time, 4),
                "place": None if s.place is None else round(s.place, 4),
                "distance_m": None if s.distance_m is None else round(s.distance_m, 1),
                "overlap_s": round(s.overlap_s, 1),
                "window": s.window,
                "case_tag": s.tagged,
            },
            "competing": list(self.competing),
        }


def span(window: Window, settings: MatchingConfig) -> tuple[float, float]:
    """The buffered window, epoch seconds. Self-initiated windows get the wider pre-buffer."""
    start = window.start.timestamp()
    end = window.end.timestamp() if window.end is not None else start + settings.open_window_s
    pre = settings.self_initiated_pre_s if window.label is WindowLabel.SELF_INITIATED else settings.pre_buffer_s
    return start - pre, end + settings.post_buffer_s


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine); plenty for a few kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _place(track: tuple[TrackPoint, ...], place: Place | None, lo: float, hi: float, settings: MatchingConfig
           ) -> tuple[float | None, float | None]:
    if place is None or not track:
        return None, None
    # Where the officer was during the overlap says most; if no fix fell inside it, any fix of the file.
    during = [p for p in track if lo <= p.at.timestamp() <= hi] or list(track)
    nearest = min(distance_m(p.lat, p.lon, place.lat, place.lon) for p in during)
    if nearest <= place.radius_m:
        return 1.0, nearest
    return max(0.0, 1.0 - (nearest - place.radius_m) / settings.place_falloff_m), nearest


def score(footage: FootageFacts, case: CaseFacts, settings: MatchingConfig) -> Score | None:
    """Score one pair; None when the pair is no candidate (and no case_tag names the case)."""
    tagged = case.number in footage.case_tags
    fs, fe = footage.start.timestamp(), footage.end.timestamp()
    f_len = max(fe - fs, 1.0)
    best: tuple[float, float, float, float, str] | None = None  # time score, overlap s, lo, hi, label
    involved = footage.officer_no is not None and footage.officer_no in case.officers
    if involved and case.matchable:
        for window in case.windows:
            lo, hi = span(window, settings)
            overlap = min(fe, hi) - max(fs, lo)
            if overlap <= 0:
                continue
            time = min(1.0, overlap / min(f_len, hi - lo, settings.substantial_overlap_s))
            if best is None or (time, overlap) > best[:2]:
                best = (time, overlap, max(fs, lo), min(fe, hi), window.label.value)
    if best is None and not tagged:
        return None
    time, overlap, lo, hi, label = best or (0.0, 0.0, fs, fe, "")
    place, dist = _place(footage.track, case.place, lo, hi, settings) if best else (None, None)
    if tagged:
        total = 1.0
    elif place is None:
        total = time
    else:
        total = (settings.time_weight * time + settings.place_weight * place) / (
            settings.time_weight + settings.place_weight)
    return Score(time, place, dist, overlap, (lo, hi), label, tagged, total)


def _shares_time(a: Score, b: Score) -> bool:
    shared = min(a.overlap[1], b.overlap[1]) - max(a.overlap[0], b.overlap[0])
    smaller = min(a.overlap_s, b.overlap_s)
    return smaller > 0 and shared >= _SHARED * smaller


def _by_threshold(total: float, settings: MatchingConfig) -> tuple[Outcome, str]:
    if total >= settings.link_threshold:
        return Outcome.LINKED, "score_at_or_above_link_threshold"
    if total < settings.reject_threshold:
        return Outcome.NONE, "score_below_reject_threshold"
    return Outcome.REVIEW, "score_between_thresholds"


def decide(footage: FootageFacts, cases: Iterable[CaseFacts], settings: MatchingConfig) -> list[Decision]:
    """One decision per candidate case, best first. Rules, in order:

    1. a case_tag naming the case links it (decisive);
    2. otherwise the score against the thresholds: linked / review / none;
    3. candidates sharing the same minutes of footage compete: within ``ambiguity_margin`` of each other
       they all go to review; a clearly beaten one (or one beaten by a tagged case) is at most review.
       Candidates over *different* minutes (a recording that runs into a second incident) do not compete.
    """
    scored = [(c.number, s) for c in cases if (s := score(footage, c, settings)) is not None]
    scored.sort(key=lambda item: (-item[1].total, item[0]))
    decisions: list[Decision] = []
    for number, s in scored:
        if s.tagged:
            decisions.append(Decision(footage.footage_id, number, Outcome.LINKED, "case_tag", s))
            continue
        outcome, rule = _by_threshold(s.total, settings)
        rivals = [(n, o) for n, o in scored if n != number and o.total >= settings.reject_threshold
                  and (o.tagged or _shares_time(s, o))]
        close = tuple(n for n, o in rivals if not o.tagged and abs(o.total - s.total) < settings.ambiguity_margin)
        beaten = [n for n, o in rivals if o.tagged or o.total - s.total >= settings.ambiguity_margin]
        if outcome is not Outcome.NONE and close:
            outcome, rule = Outcome.REVIEW, "close_competing_case"
        elif outcome is Outcome.LINKED and beaten:
            outcome, rule = Outcome.REVIEW, "beaten_by_competing_case"
        competing = tuple(sorted({*close, *beaten})) if outcome is not Outcome.NONE else ()
        decisions.append(Decision(footage.footage_id, number, outcome, rule, s, competing))
    return decisions

