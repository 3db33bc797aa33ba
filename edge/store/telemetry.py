"""Telemetry rows (batched, telemetry durability), device events, and the registry's persisted state."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from edge.store.canonical import canonical_json
from edge.store.queries import Queries, Tx
from edge.timeutil import to_iso

TELEMETRY_COLUMNS = ("device_id", "seq", "msg_id", "device_ts", "received_at", "lat", "lon", "accuracy_m",
                     "fix_at", "battery_pct", "storage_free_mb", "recording", "signal_dbm", "clock_offset_ms", "flag")
# Times arrive as integer microseconds since the epoch (UTC) and SQLite writes them as to_iso text: the
# event loop then spends no time formatting three timestamps per message (bench/telemetry.py).
_TIME_COLUMNS = frozenset({"device_ts", "received_at", "fix_at"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _column(index: int, name: str) -> str:
    value = f"(value ->> {index})"  # the row's array element
    if name not in _TIME_COLUMNS:
        return value
    return f"strftime('%Y-%m-%dT%H:%M:%S', {value} / 1000000, 'unixepoch') || printf('.%06dZ', {value} % 1000000)"


# The whole batch is one JSON array bound to one statement: one sqlite3_step for all rows. Row by row
# (executemany), the writer thread released and re-took the GIL for every row, and while the event loop
# was busy with a burst each re-take waited for the loop's switch interval: a 250-row batch took 400 ms.
_INSERT_TELEMETRY = (
    f"INSERT INTO telemetry ({', '.join(TELEMETRY_COLUMNS)})"
    f" SELECT {', '.join(_column(i, name) for i, name in enumerate(TELEMETRY_COLUMNS))}"
    " FROM json_each(?)"
    " WHERE true ON CONFLICT (device_id, device_ts, msg_id) DO NOTHING"  # WHERE: SQLite's upsert-after-SELECT rule
)


def epoch_us(moment: datetime) -> int:
    """An aware datetime as the integer microseconds ``insert_telemetry`` takes for time columns (exact)."""
    return (moment - _EPOCH) // _MICROSECOND


def insert_telemetry(tx: Tx, rows: Sequence[tuple[Any, ...]]) -> int:
    """Rows are tuples in TELEMETRY_COLUMNS order, times as ``epoch_us``; duplicates (same device,
    device_ts and msg_id: a redelivery) are skipped. Returns the number of rows stored."""
    if not rows:
        return 0
    return tx.execute(_INSERT_TELEMETRY, (json.dumps(rows, allow_nan=False),)).rowcount


def insert_event(tx: Tx, *, device_id: str, seq: int, msg_id: str, kind: str, device_ts: datetime,
                 received_at: datetime, details: dict[str, Any], flag: str) -> bool:
    """Store one event; False when it was stored before (a redelivery): the caller then changes nothing."""
    return tx.execute(
        "INSERT INTO device_events (device_id, seq, msg_id, kind, device_ts, received_at, details, flag)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, msg_id) DO NOTHING",
        (device_id, seq, msg_id, kind, to_iso(device_ts), to_iso(received_at), canonical_json(details), flag),
    ).rowcount == 1


def events(q: Queries, device_id: str, *, kinds: Iterable[str] = (), limit: int = 100) -> list[dict[str, Any]]:
    wanted = list(kinds)
    sql = "SELECT seq, msg_id, kind, device_ts, received_at, details, flag FROM device_events WHERE device_id = ?"
    params: list[Any] = [device_id]
    if wanted:
        sql += f" AND kind IN ({', '.join('?' * len(wanted))})"
        params += wanted
    rows = q.all(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
    for row in rows:
        row["details"] = json.loads(row["details"])
    return rows


def sos_between(q: Queries, device_id: str, start: datetime, end: datetime) -> bool:
    """Whether the device raised an SOS (device clock) within [start, end]."""
    return bool(q.scalar("SELECT 1 FROM device_events WHERE device_id = ? AND kind = 'sos'"
                         " AND device_ts BETWEEN ? AND ? LIMIT 1", (device_id, to_iso(start), to_iso(end))))


def marked_file(q: Queries, device_id: str, file_name: str) -> bool:
    """Whether the device sent a ``mark_important`` event naming this file."""
    return bool(q.scalar("SELECT 1 FROM device_events WHERE device_id = ? AND kind = 'mark_important'"
                         " AND json_extract(details, '$.file_name') = ? LIMIT 1", (device_id, file_name)))


def save_states(tx: Tx, states: Iterable[tuple[str, int | None, bool, dict[str, Any]]], at: datetime) -> None:
    """Upsert (device_id, high_water, online, snapshot) rows."""
    stamp = to_iso(at)
    tx.executemany(
        "INSERT INTO device_state (device_id, high_water, online, state, updated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (device_id) DO UPDATE SET high_water = max(coalesce(high_water, -1), coalesce("
        "excluded.high_water, -1)), online = excluded.online, state = excluded.state,"
        " updated_at = excluded.updated_at",
        [(d, hw, int(online), canonical_json(snap), stamp) for d, hw, online, snap in states],
    )


def load_states(q: Queries) -> dict[str, dict[str, Any]]:
    rows = q.all("SELECT device_id, high_water, online, state FROM device_state")
    return {r["device_id"]: {"high_water": r["high_water"], "online": bool(r["online"]),
                             "state": json.loads(r["state"])} for r in rows}


def track(q: Queries, device_id: str, start: datetime, end: datetime, *, limit: int) -> list[dict[str, Any]]:
    """GPS fixes of one device whose device timestamp is in [start, end), oldest first."""
    return q.all(
        "SELECT seq, device_ts, received_at, lat, lon, accuracy_m, fix_at, clock_offset_ms, flag FROM telemetry"
        " WHERE device_id = ? AND device_ts >= ? AND device_ts < ? AND lat IS NOT NULL ORDER BY device_ts LIMIT ?",
        (device_id, to_iso(start), to_iso(end), limit),
    )


def active_device_alerts(q: Queries) -> dict[str, dict[str, str]]:
    """{device_id: {alert key: severity}} of the body-camera alerts still active (restored on restart)."""
    found: dict[str, dict[str, str]] = {}
    for row in q.all("SELECT key, severity, subject FROM alerts WHERE cleared_at IS NULL"
                     " AND kind LIKE 'bodycam.%' AND subject LIKE 'device:%'"):
        found.setdefault(row["subject"].removeprefix("device:"), {})[row["key"]] = row["severity"]
    return found
