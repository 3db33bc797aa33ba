from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from edge.bodycam.clock import ClockOffsetEstimator

T0 = datetime(2024, 6, 1, tzinfo=UTC)


def feed(est: ClockOffsetEstimator, rng: random.Random, offset_s: float, start_s: float, n: int) -> float:
    t = start_s
    for _ in range(n):
        delay = rng.expovariate(1 / 0.15)  # 5G: mostly tens of ms, a long tail
        sent = T0 + timedelta(seconds=t)
        est.add(sent + timedelta(seconds=offset_s), sent + timedelta(seconds=delay))
        t += 10
    return t


def test_needs_min_samples_then_tracks_the_least_delayed_message() -> None:
    est = ClockOffsetEstimator()
    assert est.offset is None
    assert not est.exceeds(timedelta(0))
    feed(est, random.Random(1), 2.5, 0, 50)
    assert est.offset is not None
    assert abs(est.offset.total_seconds() - 2.5) < 0.05  # the mean would be ~0.15 s off


def test_one_bogus_forward_timestamp_is_ignored() -> None:
    est = ClockOffsetEstimator()
    t = feed(est, random.Random(2), 1.0, 0, 20)
    at = T0 + timedelta(seconds=t)
    est.add(at + timedelta(hours=1), at)
    assert est.offset is not None
    assert abs(est.offset.total_seconds() - 1.0) < 0.05


def test_flushed_backlog_does_not_move_the_estimate() -> None:
    est = ClockOffsetEstimator()
    t = feed(est, random.Random(3), 0.5, 0, 20)
    back_online = T0 + timedelta(seconds=t + 300)
    for k in range(30):  # five minutes of buffered telemetry, all received at once
        est.add(T0 + timedelta(seconds=t + 10 * k + 0.5), back_online)
    assert est.offset is not None
    assert abs(est.offset.total_seconds() - 0.5) < 0.05


@pytest.mark.parametrize("jump", [-30.0, 45.0])
def test_clock_steps_are_followed_quickly(jump: float) -> None:
    est = ClockOffsetEstimator()
    rng = random.Random(4)
    t = feed(est, rng, 0.0, 0, 30)
    feed(est, rng, jump, t, 5)
    assert est.offset is not None
    assert abs(est.offset.total_seconds() - jump) < 0.1


def test_drift_bound_and_correction() -> None:
    est = ClockOffsetEstimator(min_samples=1)
    est.add(T0 + timedelta(seconds=4), T0)
    assert est.exceeds(timedelta(seconds=3))
    assert not est.exceeds(timedelta(seconds=5))
    assert est.corrected(T0 + timedelta(seconds=14)) == T0 + timedelta(seconds=10)
    est.reset()
    assert est.offset is None


def test_samples_age_out() -> None:
    est = ClockOffsetEstimator(max_age=timedelta(minutes=1), min_samples=1, ignore_top=0)
    est.add(T0 + timedelta(seconds=9), T0)
    est.add(T0 + timedelta(minutes=5), T0 + timedelta(minutes=5))  # device-time age is what counts
    assert est.sample_count == 1
    assert est.offset == timedelta(0)
