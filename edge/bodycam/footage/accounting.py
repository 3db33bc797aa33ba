"""Accounting against the body-camera domain (issue 3): the ``file`` announcement, clock offset, officer.

The single place where footage ingest calls issue 3's tables: ``expected_footage.fulfil`` (name, size,
hash), the device's measured clock offset and the device-to-officer assignment at recording time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from edge.store import enrolment, expected_footage
from edge.store import footage as rows
from edge.store.queries import Queries, Tx

log = logging.getLogger(__name__)


def fulfil_announcement(tx: Tx, *, device_id: str, file_name: str, size: int, sha256: str,
                        footage_id: int) -> dict[str, Any] | None:
    """Mark the camera's ``file`` announcement received. Returns the announcement (its ``hold_reason`` says
    whether the footage must be held: marked, SOS) or None if the camera never announced this file."""
    row = expected_footage.fulfil(tx, device_id, file_name, size, sha256, str(footage_id))
    if row is not None and row.get("mismatch"):
        log.warning("footage %d (%s/%s) differs from its announcement (size %s vs %s)", footage_id, device_id,
                    file_name, size, row.get("size_bytes"))
    return row


def announced_hold(q: Queries, *, device_id: str, file_name: str, size: int, sha256: str) -> str | None:
    """Why the camera's own announcement of exactly this file keeps it permanently (``marked``, ``sos``), if
    it does. Only this, never an upload's own claim, makes a file evidence before it has arrived."""
    row = expected_footage.matching(q, device_id, file_name, size, sha256)
    return None if row is None else row["hold_reason"]


def hold_reason(announced: dict[str, Any]) -> str:
    return f"announced: {announced['hold_reason']}"


@dataclass(frozen=True, slots=True)
class RecordingFacts:
    """What the footage row records about the recording, and on whose word."""

    announcement: dict[str, Any] | None  # the camera's matching ``file`` announcement, if any
    recorded_at: str | None  # device clock: the announcement's start, else the upload's claim
    recorded_end: str | None  # device clock: the announcement's end only
    marked: bool
    hold_reason: str | None  # None: routine


def recording_facts(q: Queries, ingest: dict[str, Any], size: int, sha256: str, *, good: bool,
                    trusted_claims: bool) -> RecordingFacts:
    """The camera's announcement decides the recording's times, its mark and any hold; without one the
    sender's claims are recorded as declared (``declared_*``) and grant nothing, unless the station read
    them itself (``trusted_claims``: a dock copy's sidecar)."""
    found = expected_footage.matching(q, ingest["device_id"], ingest["file_name"], size, sha256) if good else None
    if found is not None:
        return RecordingFacts(found, found["device_start"], found["device_end"], bool(found["marked"]),
                              hold_reason(found) if found["hold_reason"] else None)
    marked = trusted_claims and bool(ingest["marked"])
    return RecordingFacts(None, ingest["recorded_at"], None, marked, "marked on the camera" if marked else None)


@dataclass(frozen=True, slots=True)
class Attribution:
    recorded_at_station: datetime | None  # device time corrected by the measured clock offset
    clock_offset_ms: int | None  # device minus station; None when never measured
    officer_no: str | None


def attribute(q: Queries, device_id: str, recorded_at: datetime | None) -> Attribution:
    """Officer and corrected recording time; the original device time stays in ``recorded_at``."""
    if recorded_at is None:
        return Attribution(None, None, None)
    offset_ms = rows.device_clock_offset_ms(q, device_id)
    corrected = recorded_at - timedelta(milliseconds=offset_ms) if offset_ms is not None else recorded_at
    assignment = enrolment.assignment_at(q, device_id, corrected)
    return Attribution(corrected, offset_ms, assignment["officer_no"] if assignment else None)
