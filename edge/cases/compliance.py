"""Compliance warnings as pure rules: plain inputs and a time in, findings with a colour out.

A deadline rule is blue from ``blue_before_h`` ahead of its deadline, yellow from ``yellow_before_h``
ahead, red once it has passed; a finding disappears when its cause is resolved, and the service clears
its alert. Colours map to alert severities blue=info, yellow=warning, red=critical (the colour is kept in
the alert's details). Thresholds: ``[cases.compliance]``, documented in docs/cases.md.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from edge.alerts import Severity
from edge.cases.config import ComplianceConfig
from edge.cases.model import CaseFacts, FootageFacts
from edge.timeutil import to_iso


class Colour(enum.StrEnum):
    BLUE = "blue"
    YELLOW = "yellow"
    RED = "red"


SEVERITY = {Colour.BLUE: Severity.INFO, Colour.YELLOW: Severity.WARNING, Colour.RED: Severity.CRITICAL}
KIND_PREFIX = "compliance."


@dataclass(frozen=True, slots=True)
class Finding:
    key: str
    kind: str
    subject: str
    colour: Colour
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)


# -- inputs (gathered by the service through seams; plain data here) -------------------------------

@dataclass(frozen=True, slots=True)
class AnnouncedFile:
    device_id: str
    file_name: str
    duty_end: datetime
    ingested: bool


@dataclass(frozen=True, slots=True)
class Coverage:
    case_number: str
    officer_no: str
    window_start: datetime
    window_end: datetime
    covered: bool


@dataclass(frozen=True, slots=True)
class DockState:
    device_id: str
    undocked_since: datetime | None  # None: docked


@dataclass(frozen=True, slots=True)
class ClockOffset:
    device_id: str
    offset_s: float


@dataclass(frozen=True, slots=True)
class SequenceGap:
    device_id: str
    first_missing: int
    count: int
    noticed_at: datetime


@dataclass(frozen=True, slots=True)
class AwaitingReceipt:
    footage_id: str
    case_number: str
    linked_at: datetime


def deadline_colour(due: datetime, now: datetime, cfg: ComplianceConfig) -> Colour | None:
    if now >= due:
        return Colour.RED
    if now >= due - timedelta(hours=cfg.yellow_before_h):
        return Colour.YELLOW
    if now >= due - timedelta(hours=cfg.blue_before_h):
        return Colour.BLUE
    return None


def _deadline(key: str, kind: str, subject: str, due: datetime, now: datetime, cfg: ComplianceConfig,
              what: str, details: dict[str, Any]) -> Finding | None:
    colour = deadline_colour(due, now, cfg)
    if colour is None:
        return None
    when = "overdue since" if colour is Colour.RED else "due"
    return Finding(key, kind, subject, colour, f"{what}: {when} {to_iso(due)}",
                   {**details, "colour": colour.value, "due": to_iso(due)})


def footage_overdue(files: Iterable[AnnouncedFile], now: datetime, cfg: ComplianceConfig) -> list[Finding]:
    """Footage announced by a camera but not ingested within upload_deadline_h of the end of duty."""
    out = []
    for f in files:
        if f.ingested:
            continue
        due = f.duty_end + timedelta(hours=cfg.upload_deadline_h)
        found = _deadline(f"compliance:footage_overdue:{f.device_id}:{f.file_name}", "compliance.footage_overdue",
                          f"device:{f.device_id}", due, now, cfg, f"footage {f.file_name} not ingested",
                          {"device_id": f.device_id, "file_name": f.file_name})
        if found:
            out.append(found)
    return out


def coverage(cases: Iterable[CaseFacts], linked: Mapping[str, Sequence[FootageFacts]], now: datetime
             ) -> list[Coverage]:
    """For each ended window of each matchable case and each involved officer: is it covered by footage
    linked to the case and recorded by that officer during the window?"""
    out = []
    for case in cases:
        if not case.matchable:
            continue
        footage = linked.get(case.number, ())
        for window in case.windows:
            if window.end is None or window.end > now:
                continue
            for officer in sorted(case.officers):
                covered = any(f.officer_no == officer and f.start < window.end and f.end > window.start
                              for f in footage)
                out.append(Coverage(case.number, officer, window.start, window.end, covered))
    return out


def officer_without_footage(items: Iterable[Coverage], now: datetime, cfg: ComplianceConfig) -> list[Finding]:
    """An involved officer with no linked footage covering a case window, upload_deadline_h after it ended."""
    out = []
    for c in items:
        if c.covered:
            continue
        due = c.window_end + timedelta(hours=cfg.upload_deadline_h)
        found = _deadline(
            f"compliance:officer_without_footage:{c.case_number}:{c.officer_no}:{to_iso(c.window_start)}",
            "compliance.officer_without_footage", f"case:{c.case_number}", due, now, cfg,
            f"officer {c.officer_no} has no footage for case {c.case_number}",
            {"case_number": c.case_number, "officer_no": c.officer_no, "window_start": to_iso(c.window_start),
             "window_end": to_iso(c.window_end)})
        if found:
            out.append(found)
    return out


def camera_undocked(states: Iterable[DockState], now: datetime, cfg: ComplianceConfig) -> list[Finding]:
    out = []
    for s in states:
        if s.undocked_since is None:
            continue
        due = s.undocked_since + timedelta(hours=cfg.undocked_max_h)
        found = _deadline(f"compliance:camera_undocked:{s.device_id}", "compliance.camera_undocked",
                          f"device:{s.device_id}", due, now, cfg, f"camera {s.device_id} undocked",
                          {"device_id": s.device_id, "undocked_since": to_iso(s.undocked_since)})
        if found:
            out.append(found)
    return out


def clock_drift(offsets: Iterable[ClockOffset], cfg: ComplianceConfig) -> list[Finding]:
    """By size, not by deadline: blue >= clock_drift_blue_s, yellow >= the bound, red >= clock_drift_red_s."""
    out = []
    for o in offsets:
        size = abs(o.offset_s)
        colour = (Colour.RED if size >= cfg.clock_drift_red_s else Colour.YELLOW if size >= cfg.clock_drift_yellow_s
                  else Colour.BLUE if size >= cfg.clock_drift_blue_s else None)
        if colour is None:
            continue
        out.append(Finding(f"compliance:clock_drift:{o.device_id}", "compliance.clock_drift", f"device:{o.device_id}",
                           colour, f"camera {o.device_id} clock off by {o.offset_s:+.1f} s",
                           {"device_id": o.device_id, "offset_s": round(o.offset_s, 3), "colour": colour.value}))
    return out


def sequence_gaps(gaps: Iterable[SequenceGap], now: datetime, cfg: ComplianceConfig) -> list[Finding]:
    """A gap in a camera's file sequence: blue when noticed, yellow and red as it stays unfilled."""
    out = []
    for g in gaps:
        age = now - g.noticed_at
        colour = (Colour.RED if age >= timedelta(hours=cfg.sequence_gap_red_h)
                  else Colour.YELLOW if age >= timedelta(hours=cfg.sequence_gap_yellow_h) else Colour.BLUE)
        out.append(Finding(f"compliance:sequence_gap:{g.device_id}:{g.first_missing}", "compliance.sequence_gap",
                           f"device:{g.device_id}", colour,
                           f"camera {g.device_id} file sequence misses {g.count} from {g.first_missing}",
                           {"device_id": g.device_id, "first_missing": g.first_missing, "count": g.count,
                            "noticed_at": to_iso(g.noticed_at), "colour": colour.value}))
    return out


def unconfirmed_links(items: Iterable[AwaitingReceipt], now: datetime, cfg: ComplianceConfig) -> list[Finding]:
    """Case-linked footage the central platform has not confirmed within central_confirm_h of the link."""
    out = []
    for a in items:
        due = a.linked_at + timedelta(hours=cfg.central_confirm_h)
        found = _deadline(f"compliance:link_unconfirmed:{a.footage_id}:{a.case_number}",
                          "compliance.link_unconfirmed", f"case:{a.case_number}", due, now, cfg,
                          f"footage {a.footage_id} for case {a.case_number} not confirmed by the central platform",
                          {"footage_id": a.footage_id, "case_number": a.case_number})
        if found:
            out.append(found)
    return out
