"""Case registry, footage-to-case links, the review queue and the case feed cursor (migration 0400).

SQL only: the rules (what may overwrite what, custody and outbox entries) live in ``edge/cases``, which
calls these functions inside one ``Store.write`` callback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from edge.store.canonical import canonical_json
from edge.store.queries import Queries, Tx

_CASE_COLUMNS = ("number, kind, status, title, source, revision, source_updated_at, lat, lon, radius_m,"
                 " content_sha256, created_at, updated_at")


def _details(q: Queries, case: dict[str, Any]) -> dict[str, Any]:
    number = case["number"]
    case["officers"] = [r["officer_no"] for r in q.all(
        "SELECT officer_no FROM case_officers WHERE case_number = ? ORDER BY officer_no", (number,))]
    case["windows"] = q.all(
        "SELECT label, start_at AS start, end_at AS end FROM case_windows WHERE case_number = ? ORDER BY idx",
        (number,))
    case["deadlines"] = q.all(
        "SELECT kind, due_at AS due FROM case_deadlines WHERE case_number = ? ORDER BY due_at, kind", (number,))
    return case


def get_case(q: Queries, number: str) -> dict[str, Any] | None:
    """A case with its officers, windows and deadlines (without the raw record)."""
    case = q.one(f"SELECT {_CASE_COLUMNS} FROM cases WHERE number = ?", (number,))
    return None if case is None else _details(q, case)


def case_version(q: Queries, number: str) -> tuple[int, str, str] | None:
    """(revision, content hash, source) of a stored case, for idempotence and conflict checks."""
    row = q.one("SELECT revision, content_sha256, source FROM cases WHERE number = ?", (number,))
    return None if row is None else (row["revision"], row["content_sha256"], row["source"])


def put_case(tx: Tx, case: Mapping[str, Any], *, source: str, actor: str, content_sha256: str, at: str) -> str:
    """Insert or replace a case (and its child rows); append the revision to its history.

    ``case`` holds number, kind, status, title, revision, updated_at, officers, windows (label, start,
    end), location (lat, lon, radius_m) or None, deadlines (kind, due) — timestamps as ISO text.
    Returns ``created`` or ``updated``.
    """
    number = case["number"]
    exists = tx.scalar("SELECT 1 FROM cases WHERE number = ?", (number,)) is not None
    place = case.get("location") or {}
    row = (case["kind"], case["status"], case["title"], source, case["revision"], case.get("updated_at"),
           place.get("lat"), place.get("lon"), place.get("radius_m"), content_sha256, canonical_json(dict(case)))
    if exists:
        tx.execute("UPDATE cases SET kind = ?, status = ?, title = ?, source = ?, revision = ?,"
                   " source_updated_at = ?, lat = ?, lon = ?, radius_m = ?, content_sha256 = ?, record = ?,"
                   " updated_at = ? WHERE number = ?", (*row, at, number))
        for table in ("case_officers", "case_windows", "case_deadlines"):
            tx.execute(f"DELETE FROM {table} WHERE case_number = ?", (number,))
    else:
        tx.execute(f"INSERT INTO cases ({_CASE_COLUMNS.replace(', created_at, updated_at', '')}, record,"
                   " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (number, *row, at, at))
    tx.executemany("INSERT INTO case_officers VALUES (?, ?)", [(number, o) for o in sorted(set(case["officers"]))])
    tx.executemany("INSERT INTO case_windows VALUES (?, ?, ?, ?, ?)",
                   [(number, i, w["label"], w["start"], w.get("end")) for i, w in enumerate(case["windows"])])
    tx.executemany("INSERT OR REPLACE INTO case_deadlines VALUES (?, ?, ?)",
                   [(number, d["kind"], d["due"]) for d in case.get("deadlines", [])])
    change = "updated" if exists else "created"
    tx.execute("INSERT INTO case_history (case_number, revision, at, actor, change, content_sha256, record)"
               " VALUES (?, ?, ?, ?, ?, ?, ?)",
               (number, case["revision"], at, actor, change, content_sha256, canonical_json(dict(case))))
    return change


def list_cases(q: Queries, *, status: str | None = None, officer: str | None = None, limit: int = 100
               ) -> list[dict[str, Any]]:
    sql = f"SELECT {_CASE_COLUMNS} FROM cases WHERE 1 = 1"
    params: list[Any] = []
    if status:
        sql += " AND status = ?"
        params.append(status)
    if officer:
        sql += " AND number IN (SELECT case_number FROM case_officers WHERE officer_no = ?)"
        params.append(officer)
    return [_details(q, c) for c in q.all(sql + " ORDER BY updated_at DESC, number LIMIT ?", (*params, limit))]


def all_records(q: Queries) -> Iterator[dict[str, Any]]:
    """Every stored case record (start-up: fill the matcher's index)."""
    for row in q.iterate("SELECT record FROM cases ORDER BY number"):
        yield json.loads(row["record"])


def history(q: Queries, number: str) -> list[dict[str, Any]]:
    rows = q.all("SELECT revision, at, actor, change, content_sha256, record FROM case_history"
                 " WHERE case_number = ? ORDER BY id", (number,))
    for row in rows:
        row["record"] = json.loads(row["record"])
    return rows


# -- links ----------------------------------------------------------------------------------------

def _link(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is not None:
        row["provenance"] = json.loads(row["provenance"])
    return row


def get_link(q: Queries, footage_id: str, case_number: str) -> dict[str, Any] | None:
    return _link(q.one("SELECT * FROM case_links WHERE footage_id = ? AND case_number = ?",
                       (footage_id, case_number)))


def set_link(tx: Tx, *, footage_id: str, case_number: str, state: str, decided_by: str, actor: str,
             provenance: Mapping[str, Any], at: str) -> tuple[int, int]:
    """Insert or change a link and append the change to its history; returns (link id, history id)."""
    prov = canonical_json(dict(provenance))
    tx.execute(
        "INSERT INTO case_links (footage_id, case_number, state, decided_by, actor, provenance, decided_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (footage_id, case_number) DO UPDATE SET state = excluded.state,"
        " decided_by = excluded.decided_by, actor = excluded.actor, provenance = excluded.provenance,"
        " decided_at = excluded.decided_at",
        (footage_id, case_number, state, decided_by, actor, prov, at))
    link_id = int(tx.scalar("SELECT id FROM case_links WHERE footage_id = ? AND case_number = ?",
                            (footage_id, case_number)))
    result = tx.execute("INSERT INTO case_link_history (link_id, state, decided_by, actor, provenance, decided_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)", (link_id, state, decided_by, actor, prov, at))
    assert result.lastrowid is not None
    return link_id, result.lastrowid


def links_for_case(q: Queries, case_number: str, *, states: Sequence[str] = ()) -> list[dict[str, Any]]:
    sql = "SELECT * FROM case_links WHERE case_number = ?"
    params: list[Any] = [case_number]
    if states:
        sql += f" AND state IN ({', '.join('?' for _ in states)})"
        params.extend(states)
    return [r for r in (_link(row) for row in q.all(sql + " ORDER BY footage_id", params)) if r is not None]


def links_for_footage(q: Queries, footage_id: str) -> list[dict[str, Any]]:
    rows = q.all("SELECT * FROM case_links WHERE footage_id = ? ORDER BY case_number", (footage_id,))
    return [r for r in (_link(row) for row in rows) if r is not None]


def link_history(q: Queries, link_id: int) -> list[dict[str, Any]]:
    rows = q.all("SELECT state, decided_by, actor, provenance, decided_at FROM case_link_history"
                 " WHERE link_id = ? ORDER BY id", (link_id,))
    return [r for r in (_link(row) for row in rows) if r is not None]


# -- review queue ---------------------------------------------------------------------------------

def open_review(tx: Tx, *, link_id: int, footage_id: str, case_number: str, at: str) -> int:
    existing = tx.scalar("SELECT id FROM review_items WHERE link_id = ? AND state = 'open'", (link_id,))
    if existing is not None:
        return int(existing)
    result = tx.execute("INSERT INTO review_items (link_id, footage_id, case_number, opened_at) VALUES (?, ?, ?, ?)",
                        (link_id, footage_id, case_number, at))
    assert result.lastrowid is not None
    return result.lastrowid


def close_review(tx: Tx, *, link_id: int, state: str, actor: str, note: str, at: str) -> int | None:
    """Resolve the open item of a link (if any); returns its id."""
    item = tx.scalar("SELECT id FROM review_items WHERE link_id = ? AND state = 'open'", (link_id,))
    if item is None:
        return None
    tx.execute("UPDATE review_items SET state = ?, resolved_at = ?, resolved_by = ?, note = ? WHERE id = ?",
               (state, at, actor, note, item))
    return int(item)


_REVIEW_SELECT = ("SELECT r.*, l.provenance, l.state AS link_state FROM review_items r"
                  " JOIN case_links l ON l.id = r.link_id")


def get_review(q: Queries, item_id: int) -> dict[str, Any] | None:
    return _link(q.one(_REVIEW_SELECT + " WHERE r.id = ?", (item_id,)))


def review_items(q: Queries, *, state: str | None = "open", limit: int = 100) -> list[dict[str, Any]]:
    sql, params = _REVIEW_SELECT, []
    if state:
        sql += " WHERE r.state = ?"
        params.append(state)
    rows = q.all(sql + " ORDER BY r.id LIMIT ?", (*params, limit))
    return [r for r in (_link(row) for row in rows) if r is not None]


# -- feed cursor ----------------------------------------------------------------------------------

def feed_state(q: Queries, feed: str) -> tuple[str, str | None] | None:
    row = q.one("SELECT cursor, etag FROM case_feed_state WHERE feed = ?", (feed,))
    return None if row is None else (row["cursor"], row["etag"])


def set_feed_state(tx: Tx, feed: str, cursor: str, etag: str | None, at: str) -> None:
    tx.execute("INSERT INTO case_feed_state VALUES (?, ?, ?, ?) ON CONFLICT (feed) DO UPDATE SET"
               " cursor = excluded.cursor, etag = excluded.etag, updated_at = excluded.updated_at",
               (feed, cursor, etag, at))


def case_record(q: Queries, number: str) -> dict[str, Any] | None:
    """The stored record (``CaseRecord.stored()`` form) of one case."""
    raw = q.scalar("SELECT record FROM cases WHERE number = ?", (number,))
    return None if raw is None else dict(json.loads(raw))


def linked_footage_by_case(q: Queries) -> dict[str, list[str]]:
    """{case number: footage ids in state linked} (compliance: is each officer's window covered?)."""
    out: dict[str, list[str]] = {}
    for row in q.iterate("SELECT case_number, footage_id FROM case_links WHERE state = 'linked' ORDER BY id"):
        out.setdefault(row["case_number"], []).append(row["footage_id"])
    return out


def active_alert_keys(q: Queries, kind_prefix: str) -> set[str]:
    """Keys of active alerts whose kind starts with the prefix (the compliance service's own)."""
    rows = q.all("SELECT key FROM alerts WHERE cleared_at IS NULL AND kind LIKE ? ESCAPE '\\'",
                 (kind_prefix.replace("_", "\\_") + "%",))
    return {r["key"] for r in rows}
