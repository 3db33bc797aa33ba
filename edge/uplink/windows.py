"""Time windows of the uplink's budget: which link rate and which paused classes apply at a station-local time.

Pure: times are passed in. A window runs from ``start`` to ``end`` on each of its days; an ``overnight`` window
starts on its day and ends the next morning (22:00-06:00 on "fri" covers Friday night into Saturday).
Windows never overlap (the config refuses it), so at most one applies at any minute.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from edge.store.uplink_queue import TrafficClass

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY = 24 * 60
WEEK = 7 * DAY


def parse_clock(text: str, *, allow_24: bool = False) -> int:
    """"HH:MM" -> minutes after midnight; "24:00" only where ``allow_24`` (a window ending at midnight)."""
    hours, sep, minutes = text.partition(":")
    if not sep or len(hours) != 2 or len(minutes) != 2 or not (hours + minutes).isdigit():
        raise ValueError(f"{text!r} is not a time of day as HH:MM")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > DAY or (value == DAY and not allow_24):
        raise ValueError(f"{text!r} is not a time of day" + (" (00:00 to 24:00)" if allow_24 else " (00:00 to 23:59)"))
    return value


def format_clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, slots=True)
class WindowRule:
    name: str
    days: frozenset[int]  # 0 = Monday; for an overnight window, the day it starts
    start: int  # minutes after midnight
    end: int  # minutes after midnight (up to 24 * 60); on the next day for an overnight window
    overnight: bool
    link_mbit_s: float | None  # None: the uplink's own rate
    paused: frozenset[TrafficClass]

    def applies(self, local: datetime) -> bool:
        """Whether this window is in force at ``local`` (a station-local wall-clock time)."""
        minute = local.hour * 60 + local.minute
        day = local.weekday()
        if not self.overnight:
            return day in self.days and self.start <= minute < self.end
        return (day in self.days and minute >= self.start) or ((day - 1) % 7 in self.days and minute < self.end)

    def spans(self) -> list[tuple[int, int]]:
        """The minutes of the week it covers, as [from, to) pairs (an overnight Sunday wraps to Monday)."""
        found: list[tuple[int, int]] = []
        for day in sorted(self.days):
            begin = day * DAY + self.start
            finish = (day + 1) * DAY + self.end if self.overnight else day * DAY + self.end
            if finish <= WEEK:
                found.append((begin, finish))
            else:
                found += [(begin, WEEK), (0, finish - WEEK)]
        return found


def find_overlap(rules: Sequence[WindowRule]) -> str | None:
    """A description of the first overlap between two windows, or None."""
    for i, first in enumerate(rules):
        for second in rules[i + 1:]:
            for a0, a1 in first.spans():
                for b0, b1 in second.spans():
                    lo, hi = max(a0, b0), min(a1, b1)
                    if lo < hi:
                        day = WEEKDAYS[lo // DAY]
                        end = hi - (lo // DAY) * DAY
                        until = format_clock(end) if end <= DAY else f"{format_clock(end - DAY)} the next day"
                        return (f"windows {first.name!r} and {second.name!r} overlap on {day} from "
                                f"{format_clock(lo % DAY)} to {until}")
    return None


def active(rules: Iterable[WindowRule], local: datetime) -> WindowRule | None:
    """The window in force at ``local``, if any (the config guarantees at most one)."""
    return next((rule for rule in rules if rule.applies(local)), None)
