"""Traceability reads: a case's footage with hashes, and one officer's archive over a period (一人一档).

SQL only (edge/cases/trace.py serves it). Times are the fixed-width ISO text of edge.timeutil, so string
comparison is time comparison. Footage ids in case tables are the decimal text of ``footage.id``.
"""

from __future__ import annotations

import json
from typing import Any

from edge.store import case_sources
from edge.store import cases as case_rows
from edge.store.queries import Queries

_FOOTAGE_COLUMNS = ("f.id, f.sha256, f.size, f.state, f.device_id, f.file_name, f.officer_no, f.recorded_at,"
                    " f.recorded_at_station, f.clock_offset_ms, f.ingested_at, f.marked, f.hold, f.hold_reason")


def case_footage(q: Queries, number: str) -> list[dict[str, Any]]:
    """Every file with a link row to the case (any state), its footage metadata and custody chain."""
    out = []
    for link in case_rows.links_for_case(q, number):
        row = q.one(f"SELECT {_FOOTAGE_COLUMNS} FROM footage f WHERE CAST(f.id AS TEXT) = ?", (link["footage_id"],))
        out.append({
            "footage_id": link["footage_id"], "link": {k: link[k] for k in (
                "state", "decided_by", "actor", "provenance", "decided_at")},
            "footage": row, "custody": case_sources.custody_chain(q, link["footage_id"]),
        })
    return out


def officer_archive(q: Queries, officer_no: str, start: str, end: str) -> dict[str, Any]:
    """Devices, shifts, footage (with its case links), cases and warnings of one officer in [start, end)."""
    shifts = q.all("SELECT a.id, a.device_id, d.serial, d.model, a.starts_at, a.ends_at FROM device_assignments a"
                   " LEFT JOIN devices d USING (device_id) WHERE a.officer_no = ? AND a.starts_at < ?"
                   " AND a.ends_at > ? ORDER BY a.starts_at", (officer_no, end, start))
    devices = sorted({s["device_id"] for s in shifts})
    footage = q.all(f"SELECT {_FOOTAGE_COLUMNS} FROM footage f WHERE f.officer_no = ?"
                    " AND coalesce(f.recorded_at_station, f.ingested_at) >= ?"
                    " AND coalesce(f.recorded_at_station, f.ingested_at) < ? ORDER BY f.id", (officer_no, start, end))
    for row in footage:
        row["links"] = [{k: link[k] for k in ("case_number", "state", "decided_by", "decided_at")}
                        for link in case_rows.links_for_footage(q, str(row["id"]))]
    involved = [r["case_number"] for r in q.all(
        "SELECT DISTINCT o.case_number FROM case_officers o JOIN case_windows w ON w.case_number = o.case_number"
        " WHERE o.officer_no = ? AND w.start_at < ? AND (w.end_at IS NULL OR w.end_at > ?)",
        (officer_no, end, start))]
    linked = {link["case_number"] for row in footage for link in row["links"] if link["state"] in ("linked", "review")}
    cases = [c for n in sorted(set(involved) | linked) if (c := case_rows.get_case(q, n)) is not None]
    subjects = [f"device:{d}" for d in devices] + [f"case:{c['number']}" for c in cases]
    marks = ", ".join("?" for _ in subjects) or "NULL"
    warnings = q.all(
        "SELECT id, key, kind, severity, subject, message, details, raised_at, updated_at, cleared_at,"
        " cleared_reason FROM alerts WHERE raised_at < ? AND (cleared_at IS NULL OR cleared_at >= ?)"
        f" AND (subject IN ({marks}) OR json_extract(details, '$.officer_no') = ?) ORDER BY id",
        (end, start, *subjects, officer_no))
    for w in warnings:
        w["details"] = json.loads(w["details"])
        # Per-officer warnings of a case with several officers belong only to the officer they name.
        named = w["details"].get("officer_no")
        w["about_this_officer"] = named in (None, officer_no)
    return {"shifts": shifts, "devices": devices, "footage": footage, "cases": cases,
            "warnings": [w for w in warnings if w.pop("about_this_officer")]}
