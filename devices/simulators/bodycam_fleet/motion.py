"""Where a camera is and what its clock says, as pure functions of simulated time (seconds)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

_M_PER_DEG_LAT = 111_320.0
WALK_MPS = 1.4


@dataclass(frozen=True, slots=True)
class _Leg:
    t0: float
    t1: float
    x0: float
    y0: float
    x1: float
    y1: float


class Walker:
    """A patrol route: walking legs between random waypoints, pauses, now and then a vehicle ride.

    Legs are generated lazily from the walker's own RNG, so the position at time t does not depend on how
    the caller slices time into steps.
    """

    def __init__(self, rng: random.Random, lat0: float, lon0: float, *, radius_m: float = 3000.0) -> None:
        self._rng = rng
        self._lat0 = lat0
        self._lon0 = lon0
        self._m_per_deg_lon = _M_PER_DEG_LAT * math.cos(math.radians(lat0))
        self._radius = radius_m
        angle = rng.uniform(0, 2 * math.pi)
        r = rng.uniform(20, 200)  # starts just outside the station door
        x, y = r * math.cos(angle), r * math.sin(angle)
        self._legs = [_Leg(0.0, 0.0, x, y, x, y)]
        self.in_vehicle = False

    def _extend(self) -> None:
        last = self._legs[-1]
        rng = self._rng
        if rng.random() < 0.25:  # talk to someone, write a note
            pause = rng.uniform(30, 300)
            self._legs.append(_Leg(last.t1, last.t1 + pause, last.x1, last.y1, last.x1, last.y1))
            return
        vehicle = rng.random() < 0.08
        dist = rng.uniform(1000, 4000) if vehicle else rng.uniform(80, 600)
        speed = rng.uniform(8, 14) if vehicle else rng.gauss(WALK_MPS, 0.15)
        bearing = rng.uniform(0, 2 * math.pi)
        x1, y1 = last.x1 + dist * math.cos(bearing), last.y1 + dist * math.sin(bearing)
        if math.hypot(x1, y1) > self._radius:  # turn back towards the station's area
            x1, y1 = last.x1 * 0.3, last.y1 * 0.3
            dist = math.hypot(x1 - last.x1, y1 - last.y1)
        self._legs.append(_Leg(last.t1, last.t1 + dist / max(speed, 0.5), last.x1, last.y1, x1, y1))

    def _leg_at(self, t: float) -> _Leg:
        while self._legs[-1].t1 < t:
            self._extend()
        while len(self._legs) > 1 and self._legs[0].t1 < t:
            self._legs.pop(0)  # queries never go back in time
        return self._legs[0]

    def position(self, t: float) -> tuple[float, float]:
        """(lat, lon) at simulated time t (WGS-84, local flat-earth approximation: routes are a few km)."""
        leg = self._leg_at(t)
        span = leg.t1 - leg.t0
        f = 0.0 if span <= 0 else min(max((t - leg.t0) / span, 0.0), 1.0)
        x = leg.x0 + (leg.x1 - leg.x0) * f
        y = leg.y0 + (leg.y1 - leg.y0) * f
        speed = math.hypot(leg.x1 - leg.x0, leg.y1 - leg.y0) / span if span > 0 else 0.0
        self.in_vehicle = speed > 5.0
        return self._lat0 + y / _M_PER_DEG_LAT, self._lon0 + x / self._m_per_deg_lon


class DeviceClock:
    """A camera clock: initial error, ppm-scale drift, occasional jumps, reset by time sync."""

    def __init__(self, offset_s: float, ppm: float) -> None:
        self._base_offset = offset_s
        self._base_t = 0.0
        self.ppm = ppm

    def offset(self, t: float) -> float:
        """Device minus true time, seconds."""
        return self._base_offset + self.ppm * 1e-6 * (t - self._base_t)

    def jump(self, t: float, delta_s: float) -> None:
        self._base_offset = self.offset(t) + delta_s
        self._base_t = t

    def sync(self, t: float, residual_s: float) -> None:
        self._base_offset = residual_s
        self._base_t = t
