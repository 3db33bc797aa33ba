"""The byte budget, pure: the rate it grants, windows (across midnight, by day, in the station's zone), pacing,
and a wall clock that jumps forward and back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.store.uplink_queue import TrafficClass as C
from edge.uplink.budget import BudgetPlan, LinkBudget, bytes_per_s
from edge.uplink.config import UplinkConfig
from edge.uplink.windows import WindowRule

TALLINN = ZoneInfo("Europe/Tallinn")  # UTC+2 in winter
MONDAY_NOON = datetime(2026, 1, 5, 12, 0, tzinfo=TALLINN)  # a Monday
CHUNK = 64 << 10


def plan_from(**uplink: object) -> BudgetPlan:
    return UplinkConfig.model_validate(uplink).budget_plan()


DAY_NIGHT = plan_from(link_mbit_s=20, timezone="Europe/Tallinn", windows=[
    {"name": "business", "start": "08:00", "end": "18:00", "days": ["mon", "tue", "wed", "thu", "fri"],
     "link_mbit_s": 5, "paused": ["routine", "telemetry"]},
    {"name": "night", "start": "22:00", "end": "06:00", "overnight": True, "link_mbit_s": 50},
])


def drain(budget: LinkBudget, seconds: float, *, paced: bool, wall: datetime, start: float = 0.0,
          step: float = 0.01) -> int:
    """Bytes granted to a sender that asks for a chunk every ``step`` seconds of monotonic time."""
    sent = 0
    now = start
    while now < start + seconds:
        while budget.try_take(CHUNK, paced=paced, mono=now, wall=wall) == 0.0:
            sent += CHUNK
        now += step
    return sent


def test_critical_gets_the_link_rate_and_bulk_the_paced_rate() -> None:
    plan = plan_from(link_mbit_s=8, pacing=0.9)
    for paced, share in ((False, 1.0), (True, 0.9)):
        budget = LinkBudget(plan, mono=0.0, wall=MONDAY_NOON)
        sent = drain(budget, 100, paced=paced, wall=MONDAY_NOON)
        # 100 s of the rate, plus the full bucket (burst_s = 1) it starts with.
        assert sent == pytest.approx(bytes_per_s(8) * share * 101, rel=0.01)


def test_bulk_leaves_room_that_critical_finds_at_once() -> None:
    budget = LinkBudget(plan_from(link_mbit_s=8, pacing=0.9), mono=0.0, wall=MONDAY_NOON)
    drain(budget, 30, paced=True, wall=MONDAY_NOON)  # footage has saturated its share for a while
    # Bulk is now waiting for tokens, but the link bucket kept what bulk may not use: critical goes now.
    assert budget.try_take(CHUNK, paced=True, mono=30.0, wall=MONDAY_NOON) > 0
    assert budget.try_take(4096, paced=False, mono=30.0, wall=MONDAY_NOON) == 0.0


def test_a_wait_is_exactly_how_long_the_tokens_take() -> None:
    budget = LinkBudget(plan_from(link_mbit_s=8, burst_s=1), mono=0.0, wall=MONDAY_NOON)
    assert budget.try_take(1_000_000, paced=False, mono=0.0, wall=MONDAY_NOON) == 0.0  # a full bucket (1 s)
    wait = budget.try_take(500_000, paced=False, mono=0.0, wall=MONDAY_NOON)
    assert wait == pytest.approx(0.5)  # 500 kB at 1 MB/s
    assert budget.try_take(500_000, paced=False, mono=wait, wall=MONDAY_NOON) == 0.0


def test_a_grant_larger_than_the_bucket_goes_once_it_is_full_and_the_next_waits_for_the_debt() -> None:
    budget = LinkBudget(plan_from(link_mbit_s=8, burst_s=1), mono=0.0, wall=MONDAY_NOON)
    assert budget.try_take(3_000_000, paced=False, mono=0.0, wall=MONDAY_NOON) == 0.0
    assert budget.try_take(1, paced=False, mono=0.0, wall=MONDAY_NOON) == pytest.approx(2.0, abs=1e-5)


@pytest.mark.parametrize(("local", "mbit", "paused"), [
    (datetime(2026, 1, 5, 12, 0), 5, {C.ROUTINE, C.TELEMETRY}),  # Monday, business hours
    (datetime(2026, 1, 5, 7, 59), 20, set()),  # before business hours: no window
    (datetime(2026, 1, 5, 18, 0), 20, set()),  # the end is not inside the window
    (datetime(2026, 1, 10, 12, 0), 20, set()),  # Saturday: business hours are weekdays only
    (datetime(2026, 1, 5, 23, 30), 50, set()),  # Monday night, before midnight
    (datetime(2026, 1, 6, 0, 0), 50, set()),  # midnight itself
    (datetime(2026, 1, 6, 5, 59), 50, set()),  # Tuesday morning, still Monday's night
    (datetime(2026, 1, 6, 6, 0), 20, set()),
    (datetime(2026, 1, 5, 3, 0), 50, set()),  # Monday 03:00 is Sunday's night (Sunday wraps into Monday)
])
def test_windows_choose_the_rate_and_pauses_in_station_local_time(local: datetime, mbit: float,
                                                                  paused: set[C]) -> None:
    wall = local.replace(tzinfo=TALLINN).astimezone(UTC)  # the daemon keeps UTC; the window is local
    assert DAY_NIGHT.rate(wall) == bytes_per_s(mbit)
    assert DAY_NIGHT.paused(wall) == paused


def test_the_rate_follows_the_window_in_force() -> None:
    before = datetime(2026, 1, 5, 21, 59, tzinfo=TALLINN)
    budget = LinkBudget(DAY_NIGHT, mono=0.0, wall=before)
    evening = drain(budget, 10, paced=False, wall=before)
    night = drain(budget, 10, paced=False, wall=before + timedelta(minutes=1), start=10.0)
    assert evening == pytest.approx(bytes_per_s(20) * 11, rel=0.01)  # 10 s, and the bucket it starts with
    assert night == pytest.approx(bytes_per_s(50) * 10, rel=0.02)  # the evening emptied the bucket


def test_a_wall_clock_jump_changes_the_window_not_the_tokens() -> None:
    budget = LinkBudget(plan_from(link_mbit_s=8, burst_s=1), mono=100.0, wall=MONDAY_NOON)
    assert budget.try_take(1_000_000, paced=False, mono=100.0, wall=MONDAY_NOON) == 0.0
    # The wall clock jumps a day forward (NTP after an outage): no day's worth of tokens appears.
    assert budget.try_take(500_000, paced=False, mono=100.0, wall=MONDAY_NOON + timedelta(days=1)) > 0
    # ...and back by a week: nothing is refunded and nothing breaks; time keeps flowing on the monotonic clock.
    back = MONDAY_NOON - timedelta(days=7)
    assert budget.try_take(500_000, paced=False, mono=100.0, wall=back) == pytest.approx(0.5)
    assert budget.try_take(500_000, paced=False, mono=100.5, wall=back) == 0.0


def test_a_monotonic_time_from_before_grants_nothing() -> None:
    budget = LinkBudget(plan_from(link_mbit_s=8, burst_s=1), mono=50.0, wall=MONDAY_NOON)
    assert budget.try_take(1_000_000, paced=False, mono=50.0, wall=MONDAY_NOON) == 0.0
    assert budget.try_take(100_000, paced=False, mono=10.0, wall=MONDAY_NOON) > 0  # a caller's stale reading
    # The stale reading did not reset the clock: from 50.0, 0.1 s buys the 100 kB.
    assert budget.try_take(100_000, paced=False, mono=50.1, wall=MONDAY_NOON) == 0.0


def test_a_long_pause_fills_the_bucket_only_to_its_depth() -> None:
    budget = LinkBudget(plan_from(link_mbit_s=8, burst_s=2), mono=0.0, wall=MONDAY_NOON)
    assert budget.try_take(2_000_000, paced=False, mono=0.0, wall=MONDAY_NOON) == 0.0
    assert budget.level() == 0.0
    budget.try_take(0, paced=False, mono=86_400.0, wall=MONDAY_NOON)  # a day idle (or a suspended machine)
    assert budget.level() == pytest.approx(2_000_000)


def test_a_plan_refuses_what_cannot_send() -> None:
    with pytest.raises(ValueError, match="above 0"):
        BudgetPlan(0, [], UTC)
    with pytest.raises(ValueError, match="pacing"):
        BudgetPlan(5, [], UTC, pacing=0)
    with pytest.raises(ValueError, match="naive"):
        BudgetPlan(5, [], UTC).rate(datetime(2026, 1, 1))


RULE_NIGHT = WindowRule("night", frozenset(range(7)), 22 * 60, 6 * 60, True, 50, frozenset())


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1)))
def test_an_overnight_window_is_in_force_exactly_from_its_start_to_its_end_the_next_morning(moment: datetime) -> None:
    minute = moment.hour * 60 + moment.minute
    assert RULE_NIGHT.applies(moment) == (minute >= 22 * 60 or minute < 6 * 60)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 5), st.integers(0, 3_000_000), st.booleans()), max_size=60))
def test_granted_bytes_never_exceed_the_bucket_plus_the_rate_times_the_time(
        asks: list[tuple[float, int, bool]]) -> None:
    plan = plan_from(link_mbit_s=8, burst_s=1)
    budget = LinkBudget(plan, mono=0.0, wall=MONDAY_NOON)
    now = 0.0
    largest = 0
    for gap, size, paced in asks:
        now += gap
        if budget.try_take(size, paced=paced, mono=now, wall=MONDAY_NOON) == 0.0:
            largest = max(largest, size)
    # One grant may overdraw by what exceeds the bucket (it is then owed); beyond that the rate holds.
    assert budget.granted <= 1_000_000 + bytes_per_s(8) * now + max(0, largest - 1_000_000) + 1e-6
