"""Case records as the feed and the API carry them: validation with a specific reason, and conversion.

A record is checked alone (shape, windows, officers); whether it conflicts with what is stored is the
registry's question. Each refusal names one machine-readable reason, which becomes the dead letter's.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Collection
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.bodycam.payloads.ids import CaseNo, OfficerNo, UtcDatetime
from edge.cases.model import CaseFacts, Place, Window, WindowLabel
from edge.store.canonical import canonical_json
from edge.timeutil import from_iso, to_iso


class Reason(enum.StrEnum):
    MALFORMED = "malformed"
    UNKNOWN_OFFICER = "unknown_officer"
    WINDOW_END_BEFORE_START = "window_end_before_start"
    WINDOW_TOO_LONG = "window_too_long"
    CONFLICTING_REVISION = "conflicting_revision"  # same number and revision, different content
    CONFLICTING_SOURCE = "conflicting_source"  # a local case may not replace one from the central platform


class RecordRejected(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class _Model(BaseModel):
    # The central platform may add fields; we ignore what we do not know rather than refuse the case.
    model_config = ConfigDict(extra="ignore", frozen=True)


class WindowIn(_Model):
    label: WindowLabel = WindowLabel.DISPATCHED
    start: UtcDatetime
    end: UtcDatetime | None = None


class LocationIn(_Model):
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    radius_m: Annotated[float, Field(gt=0, le=50_000)] = 200.0


class DeadlineIn(_Model):
    kind: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    due: UtcDatetime


class CaseRecord(_Model):
    number: CaseNo
    revision: Annotated[int, Field(ge=0, le=2**53 - 1)]
    updated_at: UtcDatetime | None = None
    kind: Literal["incident", "administrative", "criminal"]
    status: Literal["open", "closed", "cancelled"] = "open"
    title: Annotated[str, Field(max_length=200)] = ""
    officers: Annotated[list[OfficerNo], Field(max_length=200)] = []
    windows: Annotated[list[WindowIn], Field(max_length=50)] = []
    location: LocationIn | None = None
    deadlines: Annotated[list[DeadlineIn], Field(max_length=20)] = []

    def stored(self) -> dict[str, Any]:
        """The plain form kept in the store and served by the API (ISO timestamps)."""
        return {
            "number": self.number, "revision": self.revision,
            "updated_at": None if self.updated_at is None else to_iso(self.updated_at),
            "kind": self.kind, "status": self.status, "title": self.title, "officers": sorted(set(self.officers)),
            "windows": [{"label": w.label.value, "start": to_iso(w.start),
                         "end": None if w.end is None else to_iso(w.end)} for w in self.windows],
            "location": None if self.location is None else self.location.model_dump(),
            "deadlines": [{"kind": d.kind, "due": to_iso(d.due)} for d in self.deadlines],
        }

    def content_sha256(self) -> str:
        """Identity of the content, revision and source time left out: a replay hashes the same."""
        body = {k: v for k, v in self.stored().items() if k not in ("revision", "updated_at")}
        return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '(record)'}: {e['msg']}" for e in errors[:3]]
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


def check(raw: object, *, max_window: timedelta, known_officers: Collection[str] | None) -> CaseRecord:
    """Validate one record; raise RecordRejected naming the first rule it breaks.

    ``known_officers`` None means "accept any well-formed officer number" (no register wired in).
    """
    if not isinstance(raw, dict):
        raise RecordRejected(Reason.MALFORMED, f"a case record is a JSON object, not {type(raw).__name__}")
    try:
        record = CaseRecord.model_validate(raw)
    except ValidationError as exc:
        raise RecordRejected(Reason.MALFORMED, _first_error(exc)) from None
    for i, window in enumerate(record.windows):
        if window.end is not None and window.end < window.start:
            raise RecordRejected(Reason.WINDOW_END_BEFORE_START,
                                 f"windows[{i}] ends {to_iso(window.end)} before it starts {to_iso(window.start)}")
        if window.end is not None and window.end - window.start > max_window:
            hours = (window.end - window.start).total_seconds() / 3600
            raise RecordRejected(Reason.WINDOW_TOO_LONG,
                                 f"windows[{i}] lasts {hours:.1f} h, more than the {max_window} allowed")
    if known_officers is not None:
        unknown = sorted(set(record.officers) - set(known_officers))
        if unknown:
            # Officer numbers are work identifiers, not personal ID numbers: naming them helps the fix.
            raise RecordRejected(Reason.UNKNOWN_OFFICER, f"officers not known at this station: {', '.join(unknown)}")
    return record


def facts(stored: dict[str, Any]) -> CaseFacts:
    """Matching facts from a stored record (``CaseRecord.stored()`` form)."""
    place = stored.get("location")
    return CaseFacts(
        number=stored["number"],
        officers=frozenset(stored["officers"]),
        windows=tuple(Window(from_iso(w["start"]), None if w["end"] is None else from_iso(w["end"]),
                             WindowLabel(w["label"])) for w in stored["windows"]),
        place=None if not place else Place(place["lat"], place["lon"], place["radius_m"]),
        matchable=stored["status"] != "cancelled",
    )
