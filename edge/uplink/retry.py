"""When a transient failure is tried again: jittered exponential backoff (edge/backoff.py), never sooner than
the target's Retry-After (429, 503). Pure: the caller passes the time and, for reproducible tests, a seeded rng."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from edge.backoff import jittered_backoff


def retry_at(now: datetime, attempts: int, *, min_s: float, max_s: float, retry_after_s: float | None = None,
             rng: random.Random | None = None) -> datetime:
    """The entry's next attempt after its ``attempts``-th failed one (1 = the first)."""
    delay = jittered_backoff(attempts, min_s=min_s, max_s=max_s, rng=rng)
    if retry_after_s is not None:
        if retry_after_s < 0:
            raise ValueError("Retry-After cannot be negative")
        delay = max(delay, retry_after_s)  # the target said when; a server that asks for more time gets it
    return now + timedelta(seconds=delay)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110); None when absent
    or unreadable (then the backoff alone decides). A date in the past means now (0)."""
    if value is None or not (text := value.strip()):
        return None
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT by definition
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
