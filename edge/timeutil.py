"""UTC timestamps: aware datetimes inside, one sortable ISO 8601 text form in storage and on the wire."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    """Fixed-width UTC text (microseconds, trailing Z) so that string order is time order in SQLite."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: station-edge keeps every time zone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {text!r}")
    return moment.astimezone(UTC)
