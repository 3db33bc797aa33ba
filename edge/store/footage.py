"""Footage, ingest attempts and dock bookkeeping (SQL only; the rules live in edge/bodycam/footage/)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from edge.store import holds
from edge.store.queries import Queries, Tx
from edge.timeutil import to_iso, utcnow

OPEN_INGEST_STATES = ("receiving", "finalizing")


def _now() -> str:
    return to_iso(utcnow())


# -- ingests --------------------------------------------------------------------------------------


def ingest_create(tx: Tx, values: Mapping[str, Any]) -> None:
    row = dict(values)
    row.setdefault("created_at", _now())
    row.setdefault("updated_at", row["created_at"])
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    tx.execute(f"INSERT INTO ingests ({columns}) VALUES ({marks})", tuple(row.values()))


def ingest_get(q: Queries, ingest_id: str) -> dict[str, Any] | None:
    return q.one("SELECT * FROM ingests WHERE id = ?", (ingest_id,))


def ingest_update(tx: Tx, ingest_id: str, **changes: Any) -> None:
    changes["updated_at"] = _now()
    assignments = ", ".join(f"{name} = ?" for name in changes)
    tx.execute(f"UPDATE ingests SET {assignments} WHERE id = ?", (*changes.values(), ingest_id))


def ingests_in(q: Queries, states: Iterable[str], source: str | None = None) -> list[dict[str, Any]]:
    wanted = tuple(states)
    sql = f"SELECT * FROM ingests WHERE state IN ({', '.join('?' for _ in wanted)})"
    params: list[Any] = list(wanted)
    if source is not None:
        sql += " AND source = ?"
        params.append(source)
    return q.all(sql + " ORDER BY created_at", params)


# -- footage --------------------------------------------------------------------------------------


def good_by_sha(q: Queries, sha256: str) -> dict[str, Any] | None:
    return q.one("SELECT * FROM footage WHERE sha256 = ? AND state = 'good'", (sha256,))


def insert(tx: Tx, values: Mapping[str, Any]) -> int:
    columns = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    result = tx.execute(f"INSERT INTO footage ({columns}) VALUES ({marks})", tuple(values.values()))
    assert result.lastrowid is not None
    return result.lastrowid


def get(q: Queries, footage_id: int) -> dict[str, Any] | None:
    row = q.one("SELECT * FROM footage WHERE id = ?", (footage_id,))
    return None if row is None else _decoded(row)


def listing(q: Queries, *, device_id: str | None, state: str | None, officer_no: str | None, limit: int
            ) -> list[dict[str, Any]]:
    sql = "SELECT * FROM footage WHERE 1 = 1"
    params: list[Any] = []
    for column, value in (("device_id", device_id), ("state", state), ("officer_no", officer_no)):
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    return [_decoded(r) for r in q.all(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))]


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    row["problems"] = json.loads(row["problems"])
    row["media"] = json.loads(row["media"]) if row["media"] else None
    row["marked"], row["hold"], row["damaged"] = bool(row["marked"]), bool(row["hold"]), bool(row["damaged"])
    if "unannounced" in row:  # columns of migration 0201
        row["unannounced"] = bool(row["unannounced"])
        row["declared_marked"] = None if row["declared_marked"] is None else bool(row["declared_marked"])
    return row


def set_probe(tx: Tx, footage_id: int, *, media: Mapping[str, Any], damaged: bool, problems: list[str],
              thumbnail: str | None) -> None:
    tx.execute(
        "UPDATE footage SET probe_state = 'done', media = ?, damaged = ?, problems = ?, thumbnail = ? WHERE id = ?",
        (json.dumps(dict(media), sort_keys=True), int(damaged), json.dumps(problems), thumbnail, footage_id),
    )


def pending_probes(q: Queries) -> list[dict[str, Any]]:
    return q.all("SELECT id, path, sha256 FROM footage WHERE probe_state = 'pending' AND state != 'deleted'"
                 " ORDER BY id")


def set_hold(tx: Tx, footage_id: int, *, hold: bool, reason: str, retain_until: str | None) -> None:
    tx.execute("UPDATE footage SET hold = ?, hold_reason = ?, retain_until = ? WHERE id = ?",
               (int(hold), reason if hold else None, retain_until, footage_id))


def set_marked(tx: Tx, footage_id: int) -> None:
    tx.execute("UPDATE footage SET marked = 1 WHERE id = ?", (footage_id,))


def good_named(q: Queries, device_id: str, file_name: str) -> list[int]:
    """Good footage of this device stored under this file name."""
    found = q.all("SELECT id FROM footage WHERE device_id = ? AND file_name = ? AND state = 'good'",
                  (device_id, file_name))
    return [int(r["id"]) for r in found]


def unannounced_match(q: Queries, device_id: str, file_name: str, size: int, sha256: str
                      ) -> dict[str, Any] | None:
    """Good footage still waiting for the camera's announcement of exactly this file (name, size, hash)."""
    return q.one("SELECT * FROM footage WHERE unannounced = 1 AND state = 'good' AND device_id = ?"
                 " AND file_name = ? AND size = ? AND sha256 = ?", (device_id, file_name, size, sha256))


def apply_announcement(tx: Tx, footage_id: int, *, recorded_at: str, recorded_end: str, marked: bool,
                       recorded_at_station: str | None, clock_offset_ms: int | None, officer_no: str | None
                       ) -> None:
    """A late announcement's facts replace what the upload claimed (the claims stay in declared_*)."""
    tx.execute("UPDATE footage SET unannounced = 0, recorded_at = ?, recorded_end = ?, marked = ?,"
               " recorded_at_station = ?, clock_offset_ms = ?, officer_no = ? WHERE id = ?",
               (recorded_at, recorded_end, int(marked), recorded_at_station, clock_offset_ms, officer_no,
                footage_id))


def all_files(q: Queries) -> list[dict[str, Any]]:
    """Every footage row's path and state, for reconciliation against the disk."""
    return q.all("SELECT id, path, state, sha256, thumbnail FROM footage")


def tombstone(tx: Tx, footage_id: int, *, reason: str, at: str) -> None:
    tx.execute("UPDATE footage SET state = 'deleted', deleted_at = ?, deleted_reason = ? WHERE id = ?",
               (at, reason, footage_id))


def totals(q: Queries) -> dict[str, dict[str, int]]:
    return {
        r["state"]: {"files": r["n"], "bytes": r["bytes"] or 0}
        for r in q.all("SELECT state, COUNT(*) AS n, SUM(size) AS bytes FROM footage GROUP BY state")
    }


# -- dock -----------------------------------------------------------------------------------------


def dock_known(q: Queries, device_id: str) -> dict[tuple[str, int, int], dict[str, Any]]:
    rows = q.all("SELECT * FROM dock_files WHERE device_id = ?", (device_id,))
    return {(r["rel_path"], r["size"], r["mtime_ns"]): r for r in rows}


def dock_record(tx: Tx, *, device_id: str, rel_path: str, size: int, mtime_ns: int, ingest_id: str,
                state: str, sha256: str | None = None, detail: str | None = None) -> None:
    tx.execute(
        "INSERT INTO dock_files (device_id, rel_path, size, mtime_ns, ingest_id, sha256, state, detail, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, rel_path, size, mtime_ns) DO UPDATE SET"
        " ingest_id = excluded.ingest_id, sha256 = excluded.sha256, state = excluded.state,"
        " detail = excluded.detail, updated_at = excluded.updated_at,"
        # A try is counted once, when it starts (the 'copying' row); its outcome does not count again.
        " attempts = dock_files.attempts + (excluded.state = 'copying')",
        (device_id, rel_path, size, mtime_ns, ingest_id, sha256, state, detail, _now()),
    )


def dock_done(q: Queries, device_id: str) -> list[dict[str, Any]]:
    """Files of a device that are safely stored here: the camera may erase them."""
    return q.all(
        "SELECT d.rel_path, d.size, d.sha256, i.footage_id, d.updated_at FROM dock_files d"
        " JOIN ingests i ON i.id = d.ingest_id WHERE d.device_id = ? AND d.state = 'done'"
        " AND i.state IN ('complete', 'duplicate') ORDER BY d.rel_path",
        (device_id,),
    )


def announcement_for(q: Queries, device_id: str, file_name: str) -> dict[str, Any] | None:
    """The camera's ``file`` announcement of this recording (expected_footage, issue 3), if any."""
    return q.one("SELECT size_bytes, sha256, marked, hold_reason FROM expected_footage"
                 " WHERE device_id = ? AND file_name = ?", (device_id, file_name))


def dock_forget_copying(tx: Tx) -> int:
    """Copies cut by a crash: forget them so the next scan copies the file again from the start."""
    return tx.execute("DELETE FROM dock_files WHERE state = 'copying'").rowcount


def device_clock_offset_ms(q: Queries, device_id: str) -> int | None:
    """The body-camera registry's latest measured clock offset (device minus station), if any."""
    if not q.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'device_state'"):
        return None
    value = q.scalar("SELECT json_extract(state, '$.clock_offset_ms') FROM device_state WHERE device_id = ?",
                     (device_id,))
    return None if value is None else int(value)


def case_hold(tx: Tx, footage_id: str, case_number: str, held: bool, *, retention_days: int) -> None:
    """The case domain's HoldHook (bind ``retention_days`` with functools.partial): place or release the hold
    for one case, keeping any other holder. A file released by its last holder gets ``retention_days`` of
    routine retention from ingest (retention is never shortened by a link)."""
    if footage_id.isdigit():
        holds.set_holder(tx, int(footage_id), f"case:{case_number}", held, retention_days=retention_days)


def stalled_uploads(q: Queries, idle_since: str) -> list[dict[str, Any]]:
    """Uploads still receiving whose last durable progress is older than ``idle_since``."""
    return q.all(
        "SELECT id, device_id, file_name, received, length, updated_at FROM ingests"
        " WHERE source = 'upload' AND state = 'receiving' AND updated_at < ? ORDER BY updated_at",
        (idle_since,),
    )
