"""The circuit breaker, pure: opens after N consecutive failures, one probe after the cool-down."""

from __future__ import annotations

import pytest

from edge.uplink.breaker import Breaker, BreakerState


def test_it_opens_after_n_consecutive_failures_only() -> None:
    breaker = Breaker(failures_to_open=3, cooldown_s=10)
    for _ in range(2):
        assert breaker.allow(0)
        breaker.record_failure(0)
    breaker.record_success(0)  # the streak is broken
    for _ in range(2):
        breaker.record_failure(1)
    assert breaker.state(1) is BreakerState.CLOSED and breaker.allow(1)
    breaker.record_failure(1)
    assert breaker.state(1) is BreakerState.OPEN and not breaker.allow(5)
    assert breaker.wait_s(5) == pytest.approx(6)


def test_half_open_lets_one_probe_and_its_verdict_decides() -> None:
    breaker = Breaker(failures_to_open=1, cooldown_s=10)
    breaker.record_failure(0)
    assert breaker.state(10) is BreakerState.HALF_OPEN
    assert breaker.allow(10) and not breaker.allow(10)  # one probe at a time
    breaker.record_failure(11)  # the probe failed: open again for a whole cool-down
    assert breaker.state(20) is BreakerState.OPEN and not breaker.allow(20)
    assert breaker.allow(21)
    breaker.record_success(21)
    assert breaker.state(21) is BreakerState.CLOSED and breaker.allow(21) and breaker.allow(21)


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="breaker needs"):
        Breaker(failures_to_open=0, cooldown_s=1)
    with pytest.raises(ValueError, match="breaker needs"):
        Breaker(failures_to_open=1, cooldown_s=0)
