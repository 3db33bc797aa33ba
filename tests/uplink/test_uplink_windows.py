"""Windows, pure: ``applies`` (the budget's question at a time) and ``spans`` (the config's overlap check)
agree at every minute of the week, so a window the config accepts is exactly the one the budget applies."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.uplink.windows import DAY, WEEK, WindowRule, find_overlap

MONDAY = datetime(2026, 1, 5)  # a local wall-clock time, as the budget passes it


@st.composite
def rules(draw: st.DrawFn, name: str) -> WindowRule:
    overnight = draw(st.booleans())
    start = draw(st.integers(1 if overnight else 0, DAY - 1))
    end = draw(st.integers(0, start - 1)) if overnight else draw(st.integers(start + 1, DAY))
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    return WindowRule(name, days, start, end, overnight, None, frozenset())


def covered(rule: WindowRule) -> set[int]:
    return {m for a, b in rule.spans() for m in range(a, b)}


@settings(max_examples=40, deadline=None)
@given(rules("a"), rules("b"))
def test_applies_and_spans_agree_and_overlap_is_found_exactly_when_two_windows_share_a_minute(
        a: WindowRule, b: WindowRule) -> None:
    minutes_a, minutes_b = covered(a), covered(b)
    for minute in range(0, WEEK, 7):  # every 7th minute: each weekday and time of day is met
        moment = MONDAY + timedelta(minutes=minute)
        assert a.applies(moment) == (minute in minutes_a)
    assert (find_overlap([a, b]) is not None) == bool(minutes_a & minutes_b)
