"""The decision rules, one pitfall each (bodycam-domain.md lists them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from edge.cases.config import MatchingConfig
from edge.cases.matching import Outcome, decide, distance_m
from edge.cases.model import CaseFacts, FootageFacts, Place, TrackPoint, Window, WindowLabel

S = MatchingConfig()
T = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
M = timedelta(minutes=1)
HERE = (22.5431, 114.0579)
FAR = (22.5900, 114.1200)  # ~8 km away


def case(number: str, start: timedelta, end: timedelta | None, *, officer: str = "100001",
         place: tuple[float, float] | None = None, label: WindowLabel = WindowLabel.DISPATCHED,
         matchable: bool = True) -> CaseFacts:
    return CaseFacts(number, frozenset({officer}), (Window(T + start, None if end is None else T + end, label),),
                     None if place is None else Place(*place, 200.0), matchable)


def clip(start: timedelta, end: timedelta, *, officer: str | None = "100001", at: tuple[float, float] | None = None,
         tags: frozenset[str] = frozenset()) -> FootageFacts:
    track = () if at is None else tuple(TrackPoint(T + start + k * M, *at) for k in range(int((end - start) / M)))
    return FootageFacts("f1", officer, T + start, T + end, track, tags)


def outcomes(footage: FootageFacts, *cases: CaseFacts) -> dict[str, tuple[Outcome, str]]:
    return {d.case_number: (d.outcome, d.rule) for d in decide(footage, cases, S)}


def test_recording_inside_the_window_links_with_its_provenance() -> None:
    [d] = decide(clip(5 * M, 25 * M), [case("C1", 0 * M, 40 * M)], S)
    assert d.outcome is Outcome.LINKED and d.rule == "score_at_or_above_link_threshold"
    prov = d.provenance()
    assert prov["components"]["time"] == 1.0 and prov["components"]["place"] is None
    assert prov["components"]["window"] == "dispatched" and prov["score"] == 1.0


def test_other_officer_or_no_overlap_is_no_candidate() -> None:
    assert decide(clip(5 * M, 25 * M, officer="100002"), [case("C1", 0 * M, 40 * M)], S) == []
    assert decide(clip(60 * M, 80 * M), [case("C1", 0 * M, 40 * M)], S) == []
    assert decide(clip(5 * M, 25 * M, officer=None), [case("C1", 0 * M, 40 * M)], S) == []


def test_long_recording_running_into_a_second_incident_links_both() -> None:
    # Start-time-only matching misses B; we look at overlap over the whole recording.
    got = outcomes(clip(0 * M, 90 * M), case("A", 0 * M, 40 * M), case("B", 50 * M, 120 * M))
    assert got == {"A": (Outcome.LINKED, "score_at_or_above_link_threshold"),
                   "B": (Outcome.LINKED, "score_at_or_above_link_threshold")}


def test_a_brush_with_the_buffer_is_no_link() -> None:
    # Recording ends 2 min after the pre-buffer of C starts: 2 min of overlap is not substantial.
    got = outcomes(clip(0 * M, 12 * M), case("C", 15 * M, 60 * M))
    assert got == {"C": (Outcome.NONE, "score_below_reject_threshold")}


def test_overlapping_incidents_with_close_scores_go_to_review() -> None:
    got = outcomes(clip(20 * M, 40 * M), case("A", 0 * M, 60 * M), case("B", 15 * M, 45 * M))
    assert got == {"A": (Outcome.REVIEW, "close_competing_case"), "B": (Outcome.REVIEW, "close_competing_case")}


def test_gps_decides_between_overlapping_incidents() -> None:
    got = outcomes(clip(20 * M, 40 * M, at=HERE), case("A", 0 * M, 60 * M, place=FAR),
                   case("B", 15 * M, 45 * M, place=HERE))
    assert got["B"] == (Outcome.LINKED, "score_at_or_above_link_threshold")
    assert got["A"][0] is Outcome.REVIEW  # 0.6: time fits, place contradicts; a person decides


def test_a_case_tag_is_decisive_and_caps_its_competitor() -> None:
    got = outcomes(clip(20 * M, 40 * M, tags=frozenset({"B"})), case("A", 0 * M, 60 * M), case("B", 15 * M, 45 * M))
    assert got == {"B": (Outcome.LINKED, "case_tag"), "A": (Outcome.REVIEW, "beaten_by_competing_case")}
    # ... even when nothing else matches (other officer, other time)
    [d] = decide(clip(200 * M, 210 * M, officer="999999", tags=frozenset({"A"})), [case("A", 0 * M, 60 * M)], S)
    assert (d.outcome, d.rule, d.score.tagged) == (Outcome.LINKED, "case_tag", True)


def test_self_initiated_stop_gets_the_wide_pre_buffer() -> None:
    # Recording starts 12 min before the officer reported the stop: outside the 5-min dispatch buffer,
    # inside the 15-min self-initiated one.
    footage = clip(-12 * M, -6 * M)
    assert outcomes(footage, case("D", 0 * M, 20 * M)) == {}
    got = outcomes(footage, case("S", 0 * M, 20 * M, label=WindowLabel.SELF_INITIATED))
    assert got == {"S": (Outcome.LINKED, "score_at_or_above_link_threshold")}


def test_an_open_window_matches_for_open_window_s_and_cancelled_cases_not_at_all() -> None:
    assert outcomes(clip(60 * M, 80 * M), case("O", 0 * M, None))["O"][0] is Outcome.LINKED
    assert outcomes(clip(200 * M, 220 * M), case("O", 0 * M, None)) == {}
    assert outcomes(clip(5 * M, 25 * M), case("X", 0 * M, 40 * M, matchable=False)) == {}


def test_place_score_falls_off_linearly_beyond_the_radius() -> None:
    near = (HERE[0] + 0.0063, HERE[1])  # ~700 m north: radius 200 + 500 of the 1000 m falloff
    [d] = decide(clip(5 * M, 25 * M, at=near), [case("C", 0 * M, 40 * M, place=HERE)], S)
    assert d.score.place is not None and abs(d.score.place - 0.5) < 0.02
    assert abs(distance_m(*HERE, *near) - 700) < 5
