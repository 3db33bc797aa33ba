"""The link's byte budget: one token bucket for every target, its rate set by the time window in force.

Pure: the caller passes a monotonic time (seconds, for the bucket) and a wall-clock time (for the window).
Tokens only ever come from monotonic time, so a wall clock set back or forward (NTP after a long
outage, an operator fixing the date) changes which window applies, never how many bytes may go; a
monotonic time that goes backwards is ignored rather than trusted.

Non-critical ("paced") traffic draws from a second bucket at ``pacing`` times the rate as well as from the
link's bucket, so bulk transfers leave the rest of the link free and a critical entry finds tokens waiting
instead of queueing behind a footage part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from edge.store.uplink_queue import TrafficClass
from edge.uplink.windows import WindowRule, active

BITS_PER_BYTE = 8


def bytes_per_s(mbit_s: float) -> float:
    return mbit_s * 1_000_000 / BITS_PER_BYTE


@dataclass(frozen=True, slots=True)
class BudgetPlan:
    link_mbit_s: float  # outside every window
    windows: Sequence[WindowRule]
    zone: tzinfo  # station-local time of the windows
    pacing: float = 0.9
    burst_s: float = 1.0

    def __post_init__(self) -> None:
        if not self.link_mbit_s > 0:
            raise ValueError("the link's budget must be above 0 Mbit/s")
        if not 0 < self.pacing <= 1:
            raise ValueError("pacing is a fraction of the link's rate, above 0 and at most 1")
        if not self.burst_s > 0:
            raise ValueError("burst_s must be above 0")

    def window(self, wall: datetime) -> WindowRule | None:
        if wall.tzinfo is None:
            raise ValueError("naive datetime: the window is chosen from an aware wall-clock time")
        return active(self.windows, wall.astimezone(self.zone))

    def rate(self, wall: datetime) -> float:
        """Bytes per second allowed at ``wall``."""
        rule = self.window(wall)
        mbit = rule.link_mbit_s if rule is not None and rule.link_mbit_s is not None else self.link_mbit_s
        return bytes_per_s(mbit)

    def paused(self, wall: datetime) -> frozenset[TrafficClass]:
        """Classes the window in force at ``wall`` pauses."""
        rule = self.window(wall)
        return rule.paused if rule is not None else frozenset()


class _Bucket:
    __slots__ = ("level",)

    def __init__(self, level: float) -> None:
        self.level = level

    def refill(self, rate: float, capacity: float, elapsed: float) -> None:
        self.level = min(capacity, self.level + rate * elapsed)

    def wait(self, nbytes: int, rate: float, capacity: float) -> float:
        # A grant bigger than the bucket is given once the bucket is full (then the level goes negative and
        # the next grant waits for the debt): parts larger than a second of the rate still go.
        need = min(float(nbytes), capacity)
        return 0.0 if self.level >= need else (need - self.level) / rate


class LinkBudget:
    """``try_take`` grants bytes or says how long to wait; nothing here sleeps."""

    def __init__(self, plan: BudgetPlan, *, mono: float, wall: datetime) -> None:
        self.plan = plan
        rate = plan.rate(wall)
        self._last = mono
        self._link = _Bucket(rate * plan.burst_s)
        self._paced = _Bucket(rate * plan.pacing * plan.burst_s)
        self.granted = 0  # bytes granted since start, for utilisation metrics

    def _refill(self, mono: float, rate: float) -> None:
        elapsed = mono - self._last
        if elapsed <= 0:
            return  # the same instant, or a monotonic time from before: grant nothing for it
        self._last = mono
        # The rate in force now applies to the whole interval since the last call; the drain calls often.
        self._link.refill(rate, rate * self.plan.burst_s, elapsed)
        self._paced.refill(rate * self.plan.pacing, rate * self.plan.pacing * self.plan.burst_s, elapsed)

    def try_take(self, nbytes: int, *, paced: bool, mono: float, wall: datetime) -> float:
        """Take ``nbytes`` and return 0.0, or take nothing and return the seconds to wait before asking again.

        ``paced`` for every class but critical. The caller sends in chunks (a part is many chunks), so that a
        critical entry waits at most a chunk's time behind bulk traffic.
        """
        if nbytes < 0:
            raise ValueError("cannot take a negative number of bytes")
        rate = self.plan.rate(wall)
        self._refill(mono, rate)
        capacity = rate * self.plan.burst_s
        wait = self._link.wait(nbytes, rate, capacity)
        if paced:
            paced_rate = rate * self.plan.pacing
            wait = max(wait, self._paced.wait(nbytes, paced_rate, paced_rate * self.plan.burst_s))
        if wait > 0:
            return wait
        self._link.level -= nbytes
        if paced:
            self._paced.level -= nbytes
        self.granted += nbytes
        return 0.0

    def level(self, *, paced: bool = False) -> float:
        """Bytes available now (negative: debt of a grant larger than the bucket), as of the last call."""
        return self._paced.level if paced else self._link.level
