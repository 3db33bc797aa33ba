"""A circuit breaker per target, pure (the caller passes monotonic time).

closed --N consecutive failures--> open --cool-down passed--> half-open (one probe at a time)
half-open --probe succeeds--> closed;  --probe fails--> open again, for a fresh cool-down.
While open the target is not tried at all: a platform that is down gets no flood of reconnects.
"""

from __future__ import annotations

import enum


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Breaker:
    def __init__(self, *, failures_to_open: int, cooldown_s: float) -> None:
        if failures_to_open < 1 or cooldown_s <= 0:
            raise ValueError("a breaker needs failures_to_open >= 1 and a positive cool-down")
        self.failures_to_open, self.cooldown_s = failures_to_open, cooldown_s
        self.failures = 0  # consecutive
        self._opened_at: float | None = None
        self._probing = False

    def state(self, now: float) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        return BreakerState.HALF_OPEN if now - self._opened_at >= self.cooldown_s else BreakerState.OPEN

    def wait_s(self, now: float) -> float:
        """How long until a request may go (0 when one may go now)."""
        if self._opened_at is None:
            return 0.0
        remaining = self.cooldown_s - (now - self._opened_at)
        if remaining > 0:
            return remaining
        return self.cooldown_s if self._probing else 0.0  # a probe is out: wait for its verdict

    def allow(self, now: float) -> bool:
        """May a request go now? In half-open, True once (the probe) until it is recorded."""
        state = self.state(now)
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN or self._probing:
            return False
        self._probing = True
        return True

    def record_success(self, now: float) -> None:
        self.failures, self._opened_at, self._probing = 0, None, False

    def record_failure(self, now: float) -> None:
        self.failures += 1
        if self._probing or self.failures >= self.failures_to_open:
            self._opened_at, self._probing = now, False
