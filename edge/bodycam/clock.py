"""Per-device clock offset estimation (device clock minus gateway clock). Pure: times are passed in.

Each message gives one observation ``o = device_ts - received_at``. With ``off`` the true offset and
``d >= 0`` the delay between the camera stamping and the gateway receiving,
``o = off - d``: network and queueing delay can only push observations *below* the true offset, never
above. So the best estimate is near the *largest* recent observation (the least-delayed message), not the
mean. (In "gateway minus device" terms this is the usual min-filter over delay.) A camera that was offline
flushes minutes-old messages: their huge ``d`` makes them low outliers the max-filter ignores for free.

Two refinements: the k-th largest rather than the maximum, so one bogus forward timestamp cannot move the
estimate; and step detection, because after a clock jump backwards (or a time sync) the old high samples
would hold the estimate up until they age out. A step is confirmed by several consecutive low samples
that agree with each other - a flushed backlog does not, its delays differ by the sending interval.

This runs for every camera message (thousands a second), so the window is kept sorted both ways
(observed offset, device time) with ``bisect``: an observation costs O(window) memmove at worst and no
sort. Whether an offset beyond the bound calls for an alert (persistence, hysteresis, rate limits) is
the registry's decision, not the estimator's.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class OffsetSample:
    device_time: datetime
    received_at: datetime

    @property
    def observed(self) -> timedelta:
        return self.device_time - self.received_at


class ClockOffsetEstimator:
    """Smoothed offset of one device's clock; keep one per device."""

    def __init__(
        self,
        *,
        window: int = 64,
        max_age: timedelta = timedelta(minutes=10),
        ignore_top: int = 1,
        min_samples: int = 3,
        step_threshold: timedelta = timedelta(seconds=2),
        step_confirm: int = 3,
        step_agreement: timedelta = timedelta(milliseconds=500),
    ) -> None:
        if window < 1 or ignore_top < 0 or min_samples < 1 or step_confirm < 1:
            raise ValueError("window, min_samples, step_confirm must be >= 1 and ignore_top >= 0")
        self._window = window
        # Arrival order: (observed seconds, device time). Plus both values kept sorted.
        self._samples: deque[tuple[float, datetime]] = deque()
        self._by_observed: list[float] = []
        self._by_time: list[datetime] = []
        self._max_age = max_age
        self._ignore_top = ignore_top
        self._min_samples = min_samples
        self._step_threshold = step_threshold.total_seconds()
        self._step_confirm = step_confirm
        self._step_agreement = step_agreement.total_seconds()
        self._low_run: list[tuple[float, datetime]] = []  # consecutive samples well below the estimate
        self._offset_s: float | None = None

    def add(self, device_time: datetime, received_at: datetime) -> timedelta:
        """Record one message's two clocks; returns its raw observed offset."""
        observed_td = device_time - received_at
        observed = observed_td.total_seconds()
        estimate = self._offset_s
        sample = (observed, device_time)
        if len(self._samples) >= self._window:
            self._discard(self._samples.popleft())
        self._samples.append(sample)
        insort(self._by_observed, observed)
        insort(self._by_time, device_time)
        self._expire()
        if estimate is not None and observed < estimate - self._step_threshold:
            self._low_run.append(sample)
            if self._is_step():
                # The clock stepped back: forget the samples from before the step.
                self._rebuild(self._low_run[-self._window :])
                self._low_run = []
        else:
            self._low_run = []
        self._update()
        return observed_td

    def _discard(self, sample: tuple[float, datetime]) -> None:
        observed, device_time = sample
        del self._by_observed[bisect_left(self._by_observed, observed)]
        del self._by_time[bisect_left(self._by_time, device_time)]

    def _rebuild(self, samples: list[tuple[float, datetime]]) -> None:
        self._samples = deque(samples)
        self._by_observed = sorted(s[0] for s in samples)
        self._by_time = sorted(s[1] for s in samples)

    def _update(self) -> None:
        n = len(self._by_observed)
        if n < self._min_samples:
            self._offset_s = None
        else:
            self._offset_s = self._by_observed[-1 - min(self._ignore_top, n - 1)]

    def _is_step(self) -> bool:
        if len(self._low_run) < self._step_confirm:
            return False
        recent = [s[0] for s in self._low_run[-self._step_confirm :]]
        return max(recent) - min(recent) <= self._step_agreement

    def _expire(self) -> None:
        # Bounded in time as well as count, so drift and forward steps are followed within max_age. Age is
        # measured on the device's own timestamps: a backlog flushed after an outage arrives "now" but is
        # old, and must not push out the good pre-outage samples just because the gateway waited.
        # The k-th newest, like the estimate itself, so one bogus future timestamp cannot flush the window.
        times = self._by_time
        horizon = times[-1 - min(self._ignore_top, len(times) - 1)] - self._max_age
        if times[0] < horizon:
            self._rebuild([s for s in self._samples if s[1] >= horizon])

    @property
    def sample_count(self) -> int:
        return len(self._samples)

    @property
    def offset_s(self) -> float | None:
        """``offset`` in seconds (cheap: cached after every observation)."""
        return self._offset_s

    @property
    def offset(self) -> timedelta | None:
        """Device minus gateway; None until ``min_samples`` observations are held."""
        return None if self._offset_s is None else timedelta(seconds=self._offset_s)

    def corrected(self, device_time: datetime) -> datetime | None:
        """A device timestamp expressed on the gateway clock (for matching; the original is kept)."""
        offset = self.offset
        return None if offset is None else device_time - offset

    def exceeds(self, bound: timedelta) -> bool:
        """True when the smoothed offset is beyond ``bound`` either way (the registry adds persistence)."""
        offset = self._offset_s
        return offset is not None and abs(offset) > bound.total_seconds()

    def reset(self) -> None:
        """Forget everything, e.g. right after a time_sync was acknowledged."""
        self._rebuild([])
        self._low_run = []
        self._offset_s = None
