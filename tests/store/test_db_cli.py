"""``station-edge db``: read-only inspection of a real migrated station database."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
from pathlib import Path

import pytest

from edge.cli import main
from edge.store import Store, devices
from edge.store.custody import append


@pytest.fixture
async def station_db(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "station.db"
    path.parent.mkdir()
    store = Store(path)
    await store.open()
    for n, device in enumerate(("cam-0001", "cam-0002"), 1):
        await store.write(lambda tx, d=device, n=n: devices.add(
            tx, device_id=d, serial=f"BW0000{n}", model="DSJ", secret_hash="pbkdf2$x", ))
    for n in range(3):
        await store.write(lambda tx, n=n: append(tx, actor="technician:wu", action="footage.view",
                                                 subject=f"footage:{n}", reason="check", details={"n": n}))
    await store.close()
    return path


def _run(capsys: pytest.CaptureFixture[str], *words: str) -> tuple[int, str, str]:
    code = main(["db", *words])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        conn.close()


def test_tables_lists_every_migrated_table_with_its_row_count(station_db: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "tables", "--db", str(station_db), "--format", "json")
    assert code == 0, err
    listed = {t["name"]: t["rows"] for t in json.loads(out) if t["kind"] == "table"}
    assert listed == _counts(station_db)  # every table, counted the same way as the sqlite3 module does
    assert listed["devices"] == 2
    assert listed["custody_log"] >= 3
    assert listed["telemetry"] == 0


def test_tables_via_the_config_in_the_aligned_table_format(station_db: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(f'[station]\nid = "S1"\ndata_dir = "{station_db.parent}"\n', encoding="utf-8")
    code, out, err = _run(capsys, "tables", "--config", str(config))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["name", "kind", "rows"]
    assert set(lines[1]) <= {"-", " "}
    assert ["devices", "table", "2"] in [line.split() for line in lines[2:]]


def test_query_prints_json_csv_and_a_table_with_named_parameters(station_db: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    sql = "SELECT device_id, serial FROM devices WHERE device_id <> :skip ORDER BY device_id"
    code, out, err = _run(capsys, "query", sql, "--db", str(station_db), "--param", "skip=cam-0002",
                          "--format", "json")
    assert code == 0, err
    assert json.loads(out) == [{"device_id": "cam-0001", "serial": "BW00001"}]

    code, out, _ = _run(capsys, "query", "SELECT device_id, serial FROM devices ORDER BY 1", "--db",
                        str(station_db), "--format", "csv")
    assert code == 0
    assert list(csv.reader(io.StringIO(out))) == [["device_id", "serial"], ["cam-0001", "BW00001"],
                                                  ["cam-0002", "BW00002"]]

    code, out, _ = _run(capsys, "query", "SELECT count(*) AS n, NULL AS empty FROM devices", "--db",
                        str(station_db))
    assert code == 0
    assert [line.split() for line in out.splitlines()] == [["n", "empty"], ["-", "-----"], ["2", "NULL"]]


def test_blobs_are_printed_as_hex_and_limit_caps_the_rows(station_db: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "query", "SELECT x'00ff10' AS b UNION ALL SELECT x'01' UNION ALL SELECT x'02'",
                          "--db", str(station_db), "--format", "json", "--limit", "2")
    assert code == 0, err
    assert json.loads(out) == [{"b": "00ff10"}, {"b": "01"}]


def test_reporting_pragmas_are_allowed(station_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "query", "PRAGMA table_info(devices)", "--db", str(station_db), "--format", "json")
    assert code == 0, err
    assert "device_id" in {c["name"] for c in json.loads(out)}


@pytest.mark.parametrize("sql", [
    "INSERT INTO devices (device_id, serial, model, secret_hash, enrolled_at) VALUES ('x', 'y', '', '', '')",
    "UPDATE devices SET model = 'changed'",
    "DELETE FROM devices",
    "DROP TABLE telemetry",
    "CREATE TABLE notes (x)",
    "CREATE TEMP TABLE notes (x)",
    "ALTER TABLE devices ADD COLUMN colour TEXT",
    "ATTACH DATABASE '/tmp/other.db' AS other",
    "PRAGMA journal_mode = DELETE",
    "PRAGMA query_only = OFF",
    "BEGIN IMMEDIATE",
    "VACUUM",
    "WITH gone AS (SELECT 1) DELETE FROM devices",
])
def test_a_write_statement_is_refused_with_a_clear_error_and_changes_nothing(
        station_db: Path, sql: str, capsys: pytest.CaptureFixture[str]) -> None:
    before, digest = _counts(station_db), hashlib.sha256(station_db.read_bytes()).hexdigest()
    code, out, err = _run(capsys, "query", sql, "--db", str(station_db))
    assert code == 1
    assert out == ""
    assert err.startswith("refused: station-edge db only reads"), err
    assert _counts(station_db) == before
    assert hashlib.sha256(station_db.read_bytes()).hexdigest() == digest
    assert not Path("/tmp/other.db").exists() or "ATTACH" not in sql


def test_bad_sql_and_a_missing_database_get_their_own_errors(station_db: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "query", "SELEKT 1", "--db", str(station_db))
    assert (code, err.startswith("error in query:"), "syntax error" in err) == (1, True, True), err
    code, _, err = _run(capsys, "query", "SELECT nope FROM devices", "--db", str(station_db))
    assert (code, "no such column: nope" in err) == (1, True), err
    code, _, err = _run(capsys, "query", "SELECT 1; DELETE FROM devices", "--db", str(station_db))
    assert code == 1 and err.startswith(("error in query:", "refused:")), err
    assert _counts(station_db)["devices"] == 2
    code, _, err = _run(capsys, "tables", "--db", str(tmp_path / "absent.db"))
    assert (code, err.strip()) == (1, f"error: no database at {tmp_path / 'absent.db'}")


async def test_reads_beside_a_writer_that_keeps_writing(station_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = Store(station_db)  # the daemon's own writer, open in WAL mode
    await store.open()
    try:
        await store.write(lambda tx: devices.add(tx, device_id="cam-0003", serial="BW00003", model="DSJ",
                                                 secret_hash="pbkdf2$x"))
        code, out, err = _run(capsys, "query", "SELECT count(*) AS n FROM devices", "--db", str(station_db),
                              "--format", "json")
        assert (code, json.loads(out)) == (0, [{"n": 3}]), err
        await store.write(lambda tx: devices.add(tx, device_id="cam-0004", serial="BW00004", model="DSJ",
                                                 secret_hash="pbkdf2$x"))
    finally:
        await store.close()
    assert _counts(station_db)["devices"] == 4
