"""A station database with a real custody log and real signed checkpoints, and the tools an attacker
with the database would use: the sqlite3 CLI and the published hash rule."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from edge.custody.config import CustodyConfig
from edge.custody.service import CheckpointService
from edge.store import Store, custody
from edge.store.canonical import canonical_json

STATION = "ST-TEST"


def config_file(tmp: Path, data_dir: Path) -> Path:
    path = tmp / "edge.toml"
    path.write_text(f'[station]\nid = "{STATION}"\ndata_dir = "{data_dir}"\n')
    return path


async def make_log(data_dir: Path, entries: int, checkpoint_at: tuple[int, ...]) -> Path:
    """``entries`` entries with realistic details; a signed checkpoint right after each seq listed."""
    store = Store(data_dir / "station.db")
    await store.open()
    service = CheckpointService(CustodyConfig(), store, STATION, data_dir)
    try:
        async with service:
            for n in range(1, entries + 1):
                await store.write(lambda tx, n=n: custody.append(
                    tx, actor="supervisor:li", action="footage.view", subject=f"footage:{n}",
                    reason="case review 2026-0042", details={"n": n, "route": "/api/v1/footage", "名": "测试"}))
                if n in checkpoint_at:
                    assert await service.checkpoint_now() is not None
    finally:
        await store.close()
    return data_dir / "station.db"


def sqlite3_cli(db: Path, sql: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    cli = shutil.which("sqlite3")
    assert cli, "the sqlite3 CLI is installed by scripts/setup test"
    return subprocess.run([cli, "-bail", str(db)], input=sql, text=True, check=check, capture_output=True)


def guard_sql(db: Path) -> list[str]:
    out = sqlite3_cli(db, ".mode json\nSELECT sql FROM sqlite_master WHERE type = 'trigger'"
                          " AND tbl_name = 'custody_log';").stdout
    return [row["sql"] for row in json.loads(out)]


def rechain_from(db: Path, seq: int, new_reason: str) -> None:
    """What an attacker with the database does: drop the guards, rewrite entry ``seq`` and recompute
    every later hash by the published rule, then put the very same guards back."""
    rows = json.loads(sqlite3_cli(db, ".mode json\nSELECT * FROM custody_log ORDER BY seq;").stdout)
    guards = guard_sql(db)
    prev = rows[seq - 2]["hash"] if seq > 1 else "0" * 64
    statements = [f"DROP TRIGGER {name};" for name in _names(guards)]
    for row in rows[seq - 1:]:
        if row["seq"] == seq:
            row["reason"] = new_reason
        body = {k: row[k] for k in ("seq", "at", "actor", "action", "subject", "reason")}
        body["details"] = json.loads(row["details"])
        digest = custody.entry_hash(prev, body)
        statements.append(f"UPDATE custody_log SET reason = '{row['reason']}', prev_hash = '{prev}',"
                          f" hash = '{digest}' WHERE seq = {row['seq']};")
        prev = digest
    statements += [f"{sql};" for sql in guards]
    sqlite3_cli(db, "\n".join(statements))


def _names(guards: list[str]) -> list[str]:
    return [sql.split()[2] for sql in guards]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real command line, in a process of its own."""
    return subprocess.run([sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def bulk_log(db: Path, entries: int) -> None:
    """A big log written the quick way (one transaction, through the append-only trigger)."""
    import sqlite3

    conn = sqlite3.connect(db, isolation_level=None)
    prev, rows = "0" * 64, []
    for seq in range(1, entries + 1):
        body = {"seq": seq, "at": "2026-12-01T10:00:00.000000Z", "actor": "supervisor:li", "action": "footage.view",
                "subject": f"footage:{seq}", "reason": "case review", "details": {"n": seq}}
        digest = custody.entry_hash(prev, body)
        rows.append((seq, body["at"], body["actor"], body["action"], body["subject"], body["reason"],
                     canonical_json(body["details"]), prev, digest))
        prev = digest
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO custody_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    conn.close()
