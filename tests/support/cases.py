"""Helpers for case-domain tests: a settable clock, case records and footage facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from edge.cases.model import FootageFacts, TrackPoint

T0 = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def record(number: str, officers: list[str], start: datetime, end: datetime | None, *, revision: int = 1,
           **extra: Any) -> dict[str, Any]:
    return {"number": number, "revision": revision, "kind": "incident", "status": "open", "title": number,
            "officers": officers, "windows": [{"start": iso(start), "end": None if end is None else iso(end)}],
            **extra}


def footage(footage_id: str, officer: str, start: datetime, minutes: float, *, tags: frozenset[str] = frozenset(),
            at: tuple[float, float] | None = None) -> FootageFacts:
    end = start + timedelta(minutes=minutes)
    track = () if at is None else (TrackPoint(start + (end - start) / 2, *at),)
    return FootageFacts(footage_id, officer, start, end, track, tags)
