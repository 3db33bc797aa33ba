"""The one jittered-backoff rule used by the MQTT link, the case feed, the supervisor and serial ports."""

from __future__ import annotations

import random

import pytest

from edge.backoff import jittered_backoff


def test_first_retry_waits_between_half_the_minimum_and_the_minimum() -> None:
    rng = random.Random(1)
    delays = [jittered_backoff(1, min_s=2.0, max_s=60.0, rng=rng) for _ in range(500)]
    assert min(delays) >= 1.0
    assert max(delays) <= 2.0
    assert max(delays) - min(delays) > 0.5, "the first retry is jittered too"


def test_ceiling_doubles_per_attempt_until_the_maximum() -> None:
    rng = random.Random(2)
    for attempt, ceiling in ((2, 4.0), (3, 8.0), (4, 16.0), (5, 30.0), (40, 30.0), (10_000, 30.0)):
        delays = [jittered_backoff(attempt, min_s=2.0, max_s=30.0, rng=rng) for _ in range(400)]
        assert all(1.0 <= d <= ceiling for d in delays), (attempt, min(delays), max(delays))
        # Full jitter: the draws reach close to the ceiling (it is not just the floor repeated).
        assert max(delays) > ceiling * 0.9, (attempt, max(delays))


def test_same_seed_gives_the_same_delays_and_different_seeds_differ() -> None:
    def series(seed: int) -> list[float]:
        rng = random.Random(seed)
        return [jittered_backoff(a, min_s=0.5, max_s=30.0, rng=rng) for a in range(1, 20)]

    assert series(7) == series(7)
    assert series(7) != series(8)
    assert len({round(d, 6) for d in series(7)}) == 19


def test_attempt_zero_or_negative_counts_as_the_first_retry() -> None:
    for attempt in (0, -3):
        delay = jittered_backoff(attempt, min_s=1.0, max_s=10.0, rng=random.Random(3))
        assert 0.5 <= delay <= 1.0


def test_equal_minimum_and_maximum_still_jitters_below_the_cap() -> None:
    delays = [jittered_backoff(a, min_s=5.0, max_s=5.0, rng=random.Random(a)) for a in range(1, 50)]
    assert all(2.5 <= d <= 5.0 for d in delays)


def test_a_maximum_below_the_minimum_means_the_delay_never_grows() -> None:
    delays = [jittered_backoff(a, min_s=4.0, max_s=1.0, rng=random.Random(a)) for a in range(1, 30)]
    assert all(2.0 <= d <= 4.0 for d in delays)


@pytest.mark.parametrize("min_s", [0.0, -1.0])
def test_a_minimum_that_is_not_positive_is_refused(min_s: float) -> None:
    with pytest.raises(ValueError, match="min_s > 0"):
        jittered_backoff(1, min_s=min_s, max_s=1.0)
