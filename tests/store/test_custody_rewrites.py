"""Every SQL form of rewriting the custody log, tried through the real sqlite3 CLI on a migrated
database: each is refused by the database itself, and the log still verifies."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.custody import make_log, sqlite3_cli

from edge.store import connect
from edge.store.custody import verify
from edge.store.queries import Queries

G = "0" * 64
# Entry 3 as an attacker would like it to read; hashes are placeholders: the guards refuse before any
# hash could matter, and audit verify would catch a wrong one anyway.
FAKE = "'2026-01-01T00:00:00.000000Z', 'officer:x', 'footage.view', 'footage:3', 'nothing to see', '{}'"

REWRITES = {
    "update": ("UPDATE custody_log SET reason = 'nothing to see' WHERE seq = 3;", "append-only"),
    "delete": ("DELETE FROM custody_log WHERE seq = 3;", "append-only"),
    "delete-all": ("DELETE FROM custody_log;", "append-only"),
    "insert-or-replace": (f"INSERT OR REPLACE INTO custody_log VALUES (3, {FAKE}, '{G}', 'ab');",
                          "seq must be the head's seq + 1"),
    "replace-into": (f"REPLACE INTO custody_log VALUES (3, {FAKE}, '{G}', 'ab');",
                     "seq must be the head's seq + 1"),
    "upsert-do-update": (f"INSERT INTO custody_log VALUES (3, {FAKE}, '{G}', 'ab')"
                         " ON CONFLICT (seq) DO UPDATE SET reason = excluded.reason;",
                         "seq must be the head's seq + 1"),
    "upsert-on-hash": ("INSERT INTO custody_log SELECT 6, at, actor, action, subject, 'x', details,"
                       " (SELECT hash FROM custody_log WHERE seq = 5), hash FROM custody_log WHERE seq = 2"
                       " ON CONFLICT (hash) DO UPDATE SET reason = 'x';", "an entry with this hash exists"),
    # seq and prev_hash right, but the hash of entry 2: REPLACE would delete entry 2 without a trigger.
    "replace-on-unique-hash": ("REPLACE INTO custody_log SELECT 6, at, actor, action, subject, 'x', details,"
                               " (SELECT hash FROM custody_log WHERE seq = 5), hash FROM custody_log WHERE seq = 2;",
                               "an entry with this hash exists"),
    "insert-with-gap": (f"INSERT INTO custody_log VALUES (7, {FAKE}, '{G}', 'ab');", "seq must be the head's seq + 1"),
    "insert-without-seq": ("INSERT INTO custody_log (at, actor, action, subject, reason, details, prev_hash, hash)"
                           f" VALUES ({FAKE}, '{G}', 'ab');", "seq must be the head's seq + 1"),
    "insert-wrong-prev-hash": (f"INSERT INTO custody_log VALUES (6, {FAKE}, '{G}', 'ab');",
                               "prev_hash must be the head's hash"),
    "update-or-replace": ("UPDATE OR REPLACE custody_log SET seq = 2 WHERE seq = 3;", "append-only"),
    "recursive-replace": ("PRAGMA recursive_triggers = ON;"
                          f" INSERT OR REPLACE INTO custody_log VALUES (3, {FAKE}, '{G}', 'ab');", "append-only"),
    "checkpoint-delete": ("DELETE FROM custody_checkpoint;", "custody_checkpoint is append-only"),
    "checkpoint-update": ("UPDATE custody_checkpoint SET hash = 'ab' WHERE seq = 2;",
                          "only a missing countersignature may be recorded"),
    "checkpoint-replace": ("INSERT OR REPLACE INTO custody_checkpoint SELECT seq, hash, at, station, public_key,"
                           " 'forged', NULL, NULL FROM custody_checkpoint WHERE seq = 2;",
                           "seq must be above the last checkpoint"),
    "checkpoint-of-no-entry": ("INSERT INTO custody_checkpoint VALUES (6, 'ab', 'now', 'S', 'k', 's', NULL, NULL);",
                               "must name an entry of the custody log by its hash"),
}


@pytest.fixture
async def db(tmp_path: Path) -> Path:
    return await make_log(tmp_path / "data", 5, checkpoint_at=(2,))


def _snapshot(db: Path) -> str:
    return sqlite3_cli(db, "SELECT * FROM custody_log; SELECT * FROM custody_checkpoint;").stdout


@pytest.mark.parametrize(("sql", "refusal"), REWRITES.values(), ids=REWRITES.keys())
def test_the_database_refuses_the_rewrite(db: Path, sql: str, refusal: str) -> None:
    before = _snapshot(db)
    result = sqlite3_cli(db, sql, check=False)
    assert result.returncode != 0, f"sqlite3 accepted: {sql}"
    assert refusal in result.stderr
    assert _snapshot(db) == before
    conn = connect(db, readonly=True)
    try:
        assert verify(Queries(conn)).ok
    finally:
        conn.close()


def test_an_honest_append_through_the_cli_is_still_possible(db: Path) -> None:
    """The guard forbids rewrites, not appends: an entry that extends the head is accepted (and, since
    its hash is not the chain's, audit verify names it)."""
    sqlite3_cli(db, f"INSERT INTO custody_log SELECT 6, {FAKE}, hash, 'ab' FROM custody_log WHERE seq = 5;")
    conn = connect(db, readonly=True)
    try:
        result = verify(Queries(conn))
    finally:
        conn.close()
    assert not result.ok and result.broken_seq == 6 and "altered" in result.problem


def _verify(db: Path) -> str:
    conn = connect(db, readonly=True)
    try:
        result = verify(Queries(conn))
    finally:
        conn.close()
    assert not result.ok
    return result.problem


@pytest.mark.parametrize(("tamper", "reported"), [
    ("DROP TRIGGER custody_log_append_only;", "guard trigger custody_log_append_only on custody_log was removed"),
    ("DROP TRIGGER custody_log_append_only; CREATE TRIGGER custody_log_append_only BEFORE INSERT ON custody_log"
     " WHEN 0 BEGIN SELECT RAISE(ABORT, 'custody_log is append-only'); END;",
     "guard trigger custody_log_append_only on custody_log was changed"),
    ("DROP TRIGGER custody_log_no_update; CREATE TRIGGER custody_log_no_update BEFORE UPDATE OF seq ON custody_log"
     " BEGIN SELECT RAISE(ABORT, 'custody_log is append-only'); END;",
     "guard trigger custody_log_no_update on custody_log was changed"),
    ("DROP TRIGGER custody_checkpoint_no_delete;",
     "guard trigger custody_checkpoint_no_delete on custody_checkpoint was removed"),
    ("CREATE TRIGGER sneaky AFTER INSERT ON custody_log BEGIN SELECT 1; END;",
     "unexpected trigger sneaky on custody_log"),
], ids=["removed", "weakened-when", "narrowed-to-a-column", "checkpoint-guard-removed", "extra-trigger"])
def test_a_weakened_guard_is_named_by_its_sql(db: Path, tamper: str, reported: str) -> None:
    sqlite3_cli(db, tamper)
    assert reported in _verify(db)


def test_the_same_guard_in_other_whitespace_and_case_is_accepted(db: Path) -> None:
    sql = sqlite3_cli(db, "SELECT sql FROM sqlite_master WHERE name = 'custody_log_no_delete';").stdout.strip()
    reformatted = sql.replace("\n    ", "\n\t\t").replace("BEGIN", "begin -- same guard\n").replace(" ON ", "  on ")
    sqlite3_cli(db, f"DROP TRIGGER custody_log_no_delete; {reformatted};")
    conn = connect(db, readonly=True)
    try:
        assert verify(Queries(conn)).ok
    finally:
        conn.close()
