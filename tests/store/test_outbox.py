from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from edge.store import Store
from edge.store.outbox import FileRef, OutboxEntry, Priority, counts, enqueue, enqueue_many


async def test_enqueue_is_idempotent_by_dedupe_key(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    await store.open()
    try:
        entry = OutboxEntry("sos", Priority.CRITICAL, "sos:cam-1:42", payload={"device": "cam-1"})
        assert await store.write(lambda tx: enqueue(tx, entry)) is True
        assert await store.write(lambda tx: enqueue(tx, entry)) is False
        file_entry = OutboxEntry(
            "footage", Priority.ROUTINE, "footage:abc", file=FileRef(tmp_path / "f.mp4", 10, "ab" * 32)
        )
        assert await store.write(lambda tx: enqueue_many(tx, [file_entry, entry])) == 1
        assert await store.read(counts) == {"pending": {"critical": 1, "routine": 1}}
    finally:
        await store.close()


def test_an_entry_needs_exactly_one_of_payload_or_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        OutboxEntry("x", Priority.BULK, "k")
    with pytest.raises(ValueError, match="exactly one"):
        OutboxEntry("x", Priority.BULK, "k", payload={}, file=FileRef(tmp_path, 1, "0" * 64))


CHILD = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from edge.store import Store
    from edge.store.outbox import OutboxEntry, Priority, enqueue

    BATCH = 200

    def batch(n):
        def job(tx):
            for i in range(BATCH):
                # A domain row and its outbox row, written together.
                tx.execute("INSERT INTO meta VALUES (?, ?)", (f"domain-{n}-{i}", "x"))
                enqueue(tx, OutboxEntry("test", Priority.BULK, f"k-{n}-{i}", payload={"n": n, "i": i}))
        return job

    async def main():
        store = Store(Path(sys.argv[1]))
        await store.open()
        n = 0
        while True:
            await store.write(batch(n))
            print(n, flush=True)
            n += 1

    asyncio.run(main())
""")


def test_sigkill_mid_batch_leaves_no_half_written_rows(tmp_path: Path) -> None:
    db = tmp_path / "kill.db"
    with subprocess.Popen([sys.executable, "-c", CHILD, str(db)], stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        committed = 0
        deadline = time.monotonic() + 30
        while committed < 20 and time.monotonic() < deadline:
            line = child.stdout.readline()
            assert line, "child died early"
            committed = int(line) + 1
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    conn = sqlite3.connect(db)
    try:
        domain = conn.execute("SELECT COUNT(*) FROM meta WHERE key LIKE 'domain-%'").fetchone()[0]
        queued = conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    assert domain == queued, "a domain row committed without its outbox row (or the reverse)"
    assert domain % 200 == 0, "a batch was half written"
    assert domain >= committed * 200, "an acknowledged batch was lost"
