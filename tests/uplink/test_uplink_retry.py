"""Retry timing, pure: jittered exponential backoff, and a target's Retry-After is honoured."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from edge.uplink.retry import retry_at

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def delays(attempt: int, retry_after_s: float | None = None) -> list[float]:
    rng = random.Random(3)
    return [(retry_at(NOW, attempt, min_s=1, max_s=300, rng=rng, retry_after_s=retry_after_s) - NOW).total_seconds()
            for _ in range(500)]


def test_the_backoff_grows_with_attempts_up_to_its_ceiling_and_is_jittered() -> None:
    first, fifth, many = delays(1), delays(5), delays(40)
    assert all(0.5 <= d <= 1 for d in first)
    assert all(0.5 <= d <= 16 for d in fifth) and max(fifth) > 8
    assert all(d <= 300 for d in many) and max(many) > 250
    assert len(set(many)) > 400  # spread out, so stations do not retry in step after an outage


def test_retry_after_is_never_cut_short() -> None:
    assert min(delays(1, retry_after_s=120)) == 120
    assert max(delays(40, retry_after_s=5)) > 5  # a longer backoff is kept: Retry-After is a floor
    with pytest.raises(ValueError, match="negative"):
        retry_at(NOW, 1, min_s=1, max_s=2, retry_after_s=-1)
    assert retry_at(NOW, 1, min_s=1, max_s=1, retry_after_s=3600) == NOW + timedelta(hours=1)
