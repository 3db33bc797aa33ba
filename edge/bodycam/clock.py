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
"""

from __future__ import annotations

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
        self._samples: deque[OffsetSample] = deque(maxlen=window)
        self._max_age = max_age
        self._ignore_top = ignore_top
        self._min_samples = min_samples
        self._step_threshold = step_threshold
        self._step_confirm = step_confirm
        self._step_agreement = step_agreement
        self._low_run: list[OffsetSample] = []  # consecutive samples well below the estimate

    def add(self, device_time: datetime, received_at: datetime) -> timedelta:
        """Record one message's two clocks; returns its raw observed offset."""
        sample = OffsetSample(device_time, received_at)
        estimate = self.offset
        self._samples.append(sample)
        self._expire()
        if estimate is not None and sample.observed < estimate - self._step_threshold:
            self._low_run.append(sample)
            if self._is_step():
                # The clock stepped back: forget the samples from before the step.
                self._samples = deque(self._low_run, maxlen=self._samples.maxlen)
                self._low_run = []
        else:
            self._low_run = []
        return sample.observed

    def _is_step(self) -> bool:
        if len(self._low_run) < self._step_confirm:
            return False
        recent = [s.observed for s in self._low_run[-self._step_confirm :]]
        return max(recent) - min(recent) <= self._step_agreement

    def _expire(self) -> None:
        # Bounded in time as well as count, so drift and forward steps are followed within max_age. Age is
        # measured on the device's own timestamps: a backlog flushed after an outage arrives "now" but is
        # old, and must not push out the good pre-outage samples just because the gateway waited.
        # The k-th newest, like the estimate itself, so one bogus future timestamp cannot flush the window.
        times = sorted((s.device_time for s in self._samples), reverse=True)
        horizon = times[min(self._ignore_top, len(times) - 1)] - self._max_age
        if times[-1] < horizon:
            self._samples = deque((s for s in self._samples if s.device_time >= horizon), maxlen=self._samples.maxlen)

    @property
    def sample_count(self) -> int:
        return len(self._samples)

    @property
    def offset(self) -> timedelta | None:
        """Device minus gateway; None until ``min_samples`` observations are held."""
        if len(self._samples) < self._min_samples:
            return None
        ordered = sorted((s.observed for s in self._samples), reverse=True)
        return ordered[min(self._ignore_top, len(ordered) - 1)]

    def corrected(self, device_time: datetime) -> datetime | None:
        """A device timestamp expressed on the gateway clock (for matching; the original is kept)."""
        offset = self.offset
        return None if offset is None else device_time - offset

    def exceeds(self, bound: timedelta) -> bool:
        """True when the smoothed offset is beyond ``bound`` either way: alert and send time_sync."""
        offset = self.offset
        return offset is not None and abs(offset) > bound

    def reset(self) -> None:
        """Forget everything, e.g. right after a time_sync was acknowledged."""
        self._samples.clear()
        self._low_run = []
