"""The plain facts the matching engine works on: no I/O, no store rows, no config objects.

Times are timezone-aware UTC. Footage times are the *clock-corrected* ones: the caller (footage
ingest) measures each camera's offset and keeps the device's original times itself.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class WindowLabel(enum.StrEnum):
    DISPATCHED = "dispatched"  # dispatched -> cleared
    ON_SCENE = "on_scene"
    SELF_INITIATED = "self_initiated"  # reported by the officer, no dispatch time (wider pre-buffer)
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime | None  # None: not cleared yet (matched as lasting matching.open_window_s)
    label: WindowLabel = WindowLabel.DISPATCHED


@dataclass(frozen=True, slots=True)
class Place:
    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True, slots=True)
class CaseFacts:
    number: str
    officers: frozenset[str]
    windows: tuple[Window, ...]
    place: Place | None = None
    matchable: bool = True  # False for cancelled cases: they keep people's links but attract no new ones


@dataclass(frozen=True, slots=True)
class TrackPoint:
    at: datetime
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class FootageFacts:
    footage_id: str
    officer_no: str | None  # from the device assignment at recording time; None if unknown
    start: datetime  # clock-corrected
    end: datetime
    track: tuple[TrackPoint, ...] = ()
    case_tags: frozenset[str] = field(default_factory=frozenset)  # case numbers named by case_tag events
