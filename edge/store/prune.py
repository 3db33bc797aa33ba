"""Retention of the store's growing tables: which rows may go, and deleting them in small batches.

Every rule walks its table in rowid order, one batch (a rowid range of at most ``rows`` rows) per writer
job, so one job never holds the single writer for long and other writes interleave. Rowids grow with the
row's insertion time (``inserted``), so the walk stops at the first range holding no row older than the
cut-off; a row with a wild clock (a year in the future) therefore does not stop it.

The keep rule (``KEEP_SPANS_SQL``): telemetry and device events are the context of footage (GPS track,
record start/stop, SOS). A row is kept, whatever its age, when its device recorded footage around its
device time that is held (marked on the camera, SOS, supervisor or case hold: ``footage.hold``/``marked``),
case-linked or under review (``case_links.state IN ('linked', 'review')``), or announced with a hold and
not yet arrived (``expected_footage.hold_reason``). The spans are taken once per rule and per run into a
TEMP table on the writer's connection, widened by a margin on both sides.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from edge.store.queries import Queries, Tx

# Footage whose context must stay: (device_id, start, end) in the device clock, like telemetry.device_ts.
# Start: the camera's announcement (device_start), else the recording's device time, else (a dock copy
# with no time) its ingest time. End: the announcement's device_end, else start + the probed duration,
# else start. ISO texts are fixed width, so they compare as times.
KEEP_SPANS_SQL = """
WITH held(id) AS (
    SELECT id FROM footage WHERE state != 'deleted' AND (hold = 1 OR marked = 1)
    UNION
    SELECT CAST(footage_id AS INTEGER) FROM case_links WHERE state IN ('linked', 'review')
), clips AS (
    SELECT f.device_id, coalesce(e.device_start, f.recorded_at, f.ingested_at) AS start_ts, e.device_end,
           CAST(ceil(json_extract(f.media, '$.duration_s')) AS INTEGER) AS duration_s
    FROM held h JOIN footage f ON f.id = h.id AND f.state != 'deleted'
    LEFT JOIN expected_footage e ON e.device_id = f.device_id AND e.file_name = f.file_name
)
SELECT device_id, start_ts,
       coalesce(device_end,
                strftime('%Y-%m-%dT%H:%M:%S', start_ts, '+' || duration_s || ' seconds') || '.999999Z',
                start_ts) AS end_ts
FROM clips
UNION ALL
SELECT device_id, device_start, device_end FROM expected_footage
WHERE hold_reason IS NOT NULL AND fulfilled_at IS NULL
"""

_KEEP_TABLE = "temp.retention_keep"
_KEPT = ("NOT EXISTS (SELECT 1 FROM temp.retention_keep k WHERE k.device_id = {t}.device_id"
         " AND k.start_ts <= {t}.device_ts AND k.end_ts >= {t}.device_ts)")


@dataclass(frozen=True, slots=True)
class Rule:
    name: str  # the retention key and the name in reports and metrics
    table: str
    inserted: str  # a time column that grows with the rowid (the walk's stop test)
    condition: str  # SQL over the table's row; :cutoff is the rule's cut-off time
    keeps_context: bool = False  # apply the keep spans of held and case-linked footage
    dependents: tuple[str, ...] = ()  # DELETEs run first for the same rows (:lo, :hi, :cutoff)


RULES: tuple[Rule, ...] = (
    Rule("telemetry", "telemetry", "received_at", "received_at < :cutoff", keeps_context=True),
    Rule("events", "device_events", "received_at", "received_at < :cutoff", keeps_context=True),
    Rule("dead_letters", "dead_letter", "at", "at < :cutoff"),
    # Active alerts are never removed; a cleared alert goes with its transitions.
    Rule("alert_history", "alerts", "raised_at", "cleared_at IS NOT NULL AND cleared_at < :cutoff",
         dependents=("DELETE FROM alert_events WHERE alert_id IN (SELECT id FROM alerts WHERE id >= :lo"
                     " AND id < :hi AND cleared_at IS NOT NULL AND cleared_at < :cutoff)",)),
    # Only confirmed rows; pending, in_flight, sent and failed ones are the outbox's work. A footage file's
    # entry stays while the file does: retention needs its receipt to delete the file.
    Rule("outbox", "outbox", "created_at",
         "state = 'confirmed' AND updated_at < :cutoff AND NOT (dedupe_key LIKE 'footage:%' AND EXISTS ("
         "SELECT 1 FROM footage f WHERE f.sha256 = substr(outbox.dedupe_key, 9) AND f.state = 'good'))"),
    # Upload sessions that produced no footage of their own (abandoned, or a duplicate of a stored file);
    # ingests behind footage rows and dock bookkeeping are kept (they are the footage's provenance). No
    # index leads from ingests to footage or dock_files (the foreign keys' own checks scan them too), so
    # each row costs a scan of both: the batches shrink to fit, down to one row.
    Rule("ingests", "ingests", "created_at",
         "source = 'upload' AND state IN ('terminated', 'duplicate') AND updated_at < :cutoff"
         " AND NOT EXISTS (SELECT 1 FROM footage f WHERE f.ingest_id = ingests.id)"),
    # Announcements whose footage came and has since been deleted by retention; unfulfilled announcements
    # (footage that never arrived) and held ones are kept.
    Rule("expected_footage", "expected_footage", "announced_at",
         "fulfilled_at IS NOT NULL AND fulfilled_at < :cutoff AND hold_reason IS NULL AND NOT EXISTS ("
         "SELECT 1 FROM footage f WHERE f.id = CAST(expected_footage.footage_id AS INTEGER)"
         " AND f.state != 'deleted')"),
)
RULE_NAMES = tuple(rule.name for rule in RULES)


def keep_spans(q: Queries) -> list[tuple[str, str, str]]:
    """The device time spans whose telemetry and events stay (read side; see KEEP_SPANS_SQL)."""
    return [(r["device_id"], r["start_ts"], r["end_ts"]) for r in q.iterate(KEEP_SPANS_SQL)]


def reset_keep_spans(tx: Tx) -> None:
    tx.execute(f"CREATE TABLE IF NOT EXISTS {_KEEP_TABLE} (device_id TEXT NOT NULL, start_ts TEXT NOT NULL,"
               " end_ts TEXT NOT NULL)")
    tx.execute("CREATE INDEX IF NOT EXISTS temp.retention_keep_device ON retention_keep (device_id, start_ts)")
    tx.execute(f"DELETE FROM {_KEEP_TABLE}")


def add_keep_spans(tx: Tx, spans: Sequence[tuple[str, str, str]], margin_s: int) -> None:
    """Add spans, each widened by ``margin_s`` on both sides (times stay in the fixed-width ISO form)."""
    widen = (f"strftime('%Y-%m-%dT%H:%M:%S', ?, '-{int(margin_s)} seconds') || '.000000Z',"
             f" strftime('%Y-%m-%dT%H:%M:%S', ?, '+{int(margin_s)} seconds') || '.999999Z'")
    tx.executemany(f"INSERT INTO {_KEEP_TABLE} VALUES (?, {widen})", spans)


@dataclass(frozen=True, slots=True)
class Batch:
    rule: str
    scanned: int  # rows in the rowid range (at most the batch size)
    deleted: int
    ms: float  # time the statements held the writer (wall clock)
    cpu_ms: float  # of which the writer thread ran (the rest: waiting for the CPU or the disk)
    next_lo: int | None  # where the next batch starts; None when the rule is done


def first_rowid(q: Queries, rule: Rule) -> int | None:
    value = q.scalar(f"SELECT min(rowid) FROM {rule.table}")
    return None if value is None else int(value)


def delete_batch(tx: Tx, rule: Rule, lo: int, rows: int, cutoff: str) -> Batch:
    """Delete what ``rule`` allows among the ``rows`` rows from rowid ``lo`` on (one writer job)."""
    started, cpu = time.perf_counter(), time.thread_time()
    hi_value = tx.scalar(f"SELECT rowid FROM {rule.table} WHERE rowid >= ? ORDER BY rowid LIMIT 1 OFFSET ?",
                         (lo, rows))
    hi = int(hi_value) if hi_value is not None else (1 << 63) - 1
    params = {"lo": lo, "hi": hi, "cutoff": cutoff}
    span = "rowid >= :lo AND rowid < :hi"
    scanned_old = tx.one(f"SELECT count(*) AS n, count(CASE WHEN {rule.inserted} < :cutoff THEN 1 END) AS old"
                         f" FROM {rule.table} WHERE {span}", params)
    assert scanned_old is not None
    deleted = 0
    if scanned_old["old"]:
        for dependent in rule.dependents:
            tx.execute(dependent, params)
        where = f"{span} AND {rule.condition}"
        if rule.keeps_context:
            where += " AND " + _KEPT.format(t=rule.table)
        deleted = tx.execute(f"DELETE FROM {rule.table} WHERE {where}", params).rowcount
    done = hi_value is None or not scanned_old["old"]
    return Batch(rule.name, int(scanned_old["n"]), deleted, (time.perf_counter() - started) * 1000,
                 (time.thread_time() - cpu) * 1000, None if done else hi)


def table_rows(q: Queries, tables: Sequence[str]) -> dict[str, int]:
    """Exact row counts (a full scan of each table's smallest index: run on a reader, not per scrape)."""
    return {table: int(q.scalar(f"SELECT count(*) FROM {table}")) for table in tables}


def user_tables(q: Queries) -> list[str]:
    return [r["name"] for r in q.all("SELECT name FROM sqlite_master WHERE type = 'table'"
                                     " AND name NOT LIKE 'sqlite_%' ORDER BY name")]
