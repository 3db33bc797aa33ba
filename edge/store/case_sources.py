"""What the case domain reads from other domains' tables (issues 3 and 4), and its own relink markers.

SQL only; ``edge/cases/sources.py`` turns these rows into matching facts and compliance inputs.
Footage ids: the footage table's INTEGER id; the case tables keep it as its decimal TEXT
(``CAST(f.id AS TEXT)``), the one representation the case domain uses everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from edge.store.queries import Queries, Tx
from edge.timeutil import to_iso

_FOOTAGE = (
    "SELECT f.id, f.device_id, f.file_name, f.officer_no, f.recorded_at, f.clock_offset_ms, f.sha256, f.size,"
    " f.state, f.ingested_at, json_extract(f.media, '$.duration') AS duration_s,"
    " e.device_start, e.device_end"
    " FROM footage f LEFT JOIN expected_footage e ON e.device_id = f.device_id AND e.file_name = f.file_name"
    # Only the announcement this footage fulfilled (same name, size and hash) gives its range: another file
    # announced under the same name says nothing about this one (issue 10).
    " AND e.footage_id = CAST(f.id AS TEXT)"
)


# -- officers -------------------------------------------------------------------------------------

def officer_numbers(q: Queries) -> list[str]:
    return [r["officer_no"] for r in q.all("SELECT officer_no FROM officers ORDER BY officer_no")]


# -- footage --------------------------------------------------------------------------------------

def footage_rows(q: Queries, ids: Sequence[int]) -> list[dict[str, Any]]:
    """Good footage rows (with their announcement's device-clock range, when announced) for these ids."""
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    return q.all(_FOOTAGE + f" WHERE f.state = 'good' AND f.id IN ({marks}) ORDER BY f.id", tuple(ids))


def footage_batches(q: Queries, batch: int = 2000) -> Iterator[list[dict[str, Any]]]:
    """Every good footage row, in id order and in batches (start-up: fill the matcher's index)."""
    after = 0
    while True:
        rows = q.all(_FOOTAGE + " WHERE f.state = 'good' AND f.id > ? ORDER BY f.id LIMIT ?", (after, batch))
        if not rows:
            return
        yield rows
        after = rows[-1]["id"]


def case_tags(q: Queries, device_id: str, file_name: str, start: datetime, end: datetime) -> list[str]:
    """Case numbers named by the device's ``case_tag`` events for this file: the ones naming it, and those
    naming no file that were sent while it recorded (device clock)."""
    rows = q.all(
        "SELECT DISTINCT json_extract(details, '$.case_no') AS case_no FROM device_events"
        " WHERE device_id = ? AND kind = 'case_tag' AND (json_extract(details, '$.file_name') = ?"
        " OR (json_extract(details, '$.file_name') IS NULL AND device_ts >= ? AND device_ts <= ?))",
        (device_id, file_name, to_iso(start), to_iso(end)))
    return sorted(r["case_no"] for r in rows if r["case_no"])


def footage_for_tag(q: Queries, device_id: str, file_name: str | None, device_ts: datetime) -> list[int]:
    """Good footage a camera's case_tag speaks of, by the same rule as ``case_tags``: the file it names,
    or (naming none) the files whose announced device-clock range covers the tag's time."""
    stamp = to_iso(device_ts)
    return [r["id"] for r in q.all(
        _FOOTAGE + " WHERE f.state = 'good' AND f.device_id = ? AND (f.file_name = ?"
        " OR (? IS NULL AND e.device_start <= ? AND e.device_end >= ?)) ORDER BY f.id",
        (device_id, file_name, file_name, stamp, stamp))]


def custody_chain(q: Queries, footage_id: str) -> list[dict[str, Any]]:
    """The custody entries about one file, oldest first (with their chain hashes)."""
    rows = q.all("SELECT seq, at, actor, action, reason, details, prev_hash, hash FROM custody_log"
                 " WHERE subject = ? ORDER BY seq", (f"footage:{footage_id}",))
    for row in rows:
        row["details"] = json.loads(row["details"])
    return rows


def footage_meta(q: Queries, footage_id: int) -> dict[str, Any] | None:
    return q.one("SELECT id, sha256, size, state, device_id, file_name, officer_no, recorded_at,"
                 " recorded_at_station, clock_offset_ms, ingested_at, hold, hold_reason, marked FROM footage"
                 " WHERE id = ?", (footage_id,))


# -- compliance inputs ----------------------------------------------------------------------------

def announced(q: Queries) -> list[dict[str, Any]]:
    """Announced files not yet ingested, with the end of the duty (shift) they were recorded in."""
    return q.all(
        "SELECT e.device_id, e.file_name, e.device_end, e.announced_at,"
        " (SELECT a.ends_at FROM device_assignments a WHERE a.device_id = e.device_id"
        "  AND a.starts_at <= e.announced_at ORDER BY a.starts_at DESC LIMIT 1) AS duty_end"
        " FROM expected_footage e WHERE e.fulfilled_at IS NULL ORDER BY e.id")


def dock_events(q: Queries) -> list[dict[str, Any]]:
    """The newest docked/undocked event of each device still enrolled (device and gateway clocks)."""
    return q.all(
        "SELECT ev.device_id, ev.kind, ev.device_ts FROM device_events ev"
        " JOIN devices d ON d.device_id = ev.device_id AND d.removed_at IS NULL"
        " WHERE ev.kind IN ('docked', 'undocked') AND ev.id = (SELECT max(id) FROM device_events x"
        "  WHERE x.device_id = ev.device_id AND x.kind IN ('docked', 'undocked'))")


def clock_offsets(q: Queries) -> list[dict[str, Any]]:
    return q.all("SELECT s.device_id, json_extract(s.state, '$.clock_offset_ms') AS offset_ms FROM device_state s"
                 " JOIN devices d ON d.device_id = s.device_id AND d.removed_at IS NULL"
                 " WHERE json_extract(s.state, '$.clock_offset_ms') IS NOT NULL")


def file_names(q: Queries) -> list[dict[str, Any]]:
    """Every announced or ingested file name per device, with when the station first saw it."""
    return q.all("SELECT device_id, file_name, announced_at AS seen_at FROM expected_footage"
                 " UNION ALL SELECT device_id, file_name, ingested_at AS seen_at FROM footage"
                 " WHERE state != 'quarantined' ORDER BY seen_at")


def awaiting_receipt(q: Queries) -> list[dict[str, Any]]:
    """Linked footage whose ``case.link`` outbox entry the central platform has not acknowledged."""
    return q.all(
        "SELECT l.footage_id, l.case_number, l.decided_at FROM case_links l WHERE l.state = 'linked'"
        " AND EXISTS (SELECT 1 FROM outbox o WHERE o.kind = 'case.link' AND o.state != 'confirmed'"
        "  AND json_extract(o.payload, '$.footage_id') = l.footage_id"
        "  AND json_extract(o.payload, '$.case_number') = l.case_number"
        "  AND json_extract(o.payload, '$.state') = 'linked')")


# -- relink markers (migration 0401) --------------------------------------------------------------

def mark_pending(tx: Tx, kind: str, key: str, at: str) -> None:
    tx.execute("INSERT INTO case_relink_pending (kind, key, since) VALUES (?, ?, ?)"
               " ON CONFLICT (kind, key) DO NOTHING", (kind, key, at))


def clear_pending(tx: Tx, kind: str, key: str) -> None:
    tx.execute("DELETE FROM case_relink_pending WHERE kind = ? AND key = ?", (kind, key))


def pending(q: Queries) -> list[tuple[str, str]]:
    return [(r["kind"], r["key"]) for r in q.all("SELECT kind, key FROM case_relink_pending ORDER BY since, key")]
