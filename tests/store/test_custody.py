from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from edge.cli import main
from edge.store import Store, StoreError
from edge.store.custody import GENESIS, append, entry_hash, history, verify


@pytest.fixture
async def filled(tmp_path: Path) -> Path:
    path = tmp_path / "station.db"
    store = Store(path)
    await store.open()
    for n in range(1, 6):
        await store.write(
            lambda tx, n=n: append(
                tx,
                actor="supervisor:li",
                action="footage.view",
                subject=f"footage:{n}",
                reason="case review 2026-0042",
                details={"n": n, "名": "测试"},
            )
        )
    await store.close()
    return path


async def test_chain_links_every_entry(filled: Path) -> None:
    store = Store(filled)
    await store.open()
    try:
        result = await store.read(verify)
        assert result.ok and result.entries == 5
        entries = await store.read(lambda q: history(q, "footage:1"))
        assert entries[0].prev_hash == GENESIS
        body = {
            "seq": 1,
            "at": entries[0].at,
            "actor": "supervisor:li",
            "action": "footage.view",
            "subject": "footage:1",
            "reason": "case review 2026-0042",
            "details": {"n": 1, "名": "测试"},
        }
        assert entries[0].hash == entry_hash(GENESIS, body)
    finally:
        await store.close()


async def test_database_refuses_update_and_delete(filled: Path) -> None:
    store = Store(filled)
    await store.open()
    try:
        with pytest.raises(StoreError, match="append-only"):
            await store.write(lambda tx: tx.execute("UPDATE custody_log SET reason = 'x' WHERE seq = 2"))
        with pytest.raises(StoreError, match="append-only"):
            await store.write(lambda tx: tx.execute("DELETE FROM custody_log WHERE seq = 2"))
    finally:
        await store.close()


async def test_empty_fields_are_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    await store.open()
    try:
        with pytest.raises(ValueError, match="non-empty reason"):
            await store.write(lambda tx: append(tx, actor="a", action="b", subject="c", reason=""))
    finally:
        await store.close()


def _sqlite3_cli(db: Path, sql: str) -> None:
    cli = shutil.which("sqlite3")
    assert cli, "the sqlite3 CLI is installed by scripts/test"
    subprocess.run([cli, str(db)], input=sql, text=True, check=True, capture_output=True)


@pytest.mark.parametrize(
    ("tamper", "seq", "problem"),
    [
        ("UPDATE custody_log SET reason = 'nothing to see' WHERE seq = 3;", 3, "altered"),
        ("DELETE FROM custody_log WHERE seq = 2;", 2, "missing"),
        ("UPDATE custody_log SET actor = 'officer:x', hash = 'f' || substr(hash, 2) WHERE seq = 4;", 4, "altered"),
    ],
)
def test_tampering_with_the_sqlite3_cli_is_named_by_audit_verify(
    filled: Path, tamper: str, seq: int, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify", "--db", str(filled)]) == 0
    _sqlite3_cli(filled, "DROP TRIGGER custody_log_no_update; DROP TRIGGER custody_log_no_delete;" + tamper)
    capsys.readouterr()
    assert main(["audit", "verify", "--db", str(filled)]) == 1
    err = capsys.readouterr().err
    assert f"BROKEN at entry {seq}" in err
    assert problem in err


def test_removed_guards_alone_are_reported(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conn = sqlite3.connect(filled)
    conn.execute("DROP TRIGGER custody_log_no_delete")
    conn.commit()
    conn.close()
    assert main(["audit", "verify", "--db", str(filled)]) == 1
    assert "guard trigger custody_log_no_delete on custody_log was removed" in capsys.readouterr().err
