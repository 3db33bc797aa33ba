from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from edge.store import Store, StoreClosedError, StoreError, Tx


class Refused(Exception):
    pass


async def test_a_failing_job_rolls_back_alone_in_a_group_commit(store: Store) -> None:
    def good(i: int):
        return lambda tx: tx.execute("INSERT INTO meta VALUES (?, 'ok')", (f"good-{i}",))

    def bad(tx: Tx) -> None:
        tx.execute("INSERT INTO meta VALUES ('bad', 'half')")
        raise Refused("domain rule")

    results = await asyncio.gather(*(store.write(good(i)) for i in range(50)), store.write(bad), return_exceptions=True)
    assert isinstance(results[-1], Refused)
    keys = await store.read(lambda q: {r["key"] for r in q.all("SELECT key FROM meta")})
    assert keys == {f"good-{i}" for i in range(50)}


async def test_sql_errors_become_store_errors(store: Store) -> None:
    with pytest.raises(StoreError, match="no such table"):
        await store.write(lambda tx: tx.execute("INSERT INTO nowhere VALUES (1)"))
    # The writer survives and keeps working.
    await store.write(lambda tx: tx.execute("INSERT INTO meta VALUES ('after', 'ok')"))


async def test_readers_cannot_write(store: Store) -> None:
    with pytest.raises(StoreError, match=r"readonly|read-only|query_only"):
        await store.read(lambda q: q._conn.execute("INSERT INTO meta VALUES ('x', 'y')"))


async def test_closed_store_refuses_work(tmp_path: Path) -> None:
    s = Store(tmp_path / "db.sqlite")
    with pytest.raises(StoreClosedError):
        await s.write(lambda tx: None)
    await s.open()
    await s.close()
    with pytest.raises(StoreClosedError):
        await s.read(lambda q: None)


async def test_close_commits_what_was_queued(tmp_path: Path) -> None:
    s = Store(tmp_path / "db.sqlite")
    await s.open()
    pending = [
        asyncio.ensure_future(s.write(lambda tx, i=i: tx.execute("INSERT INTO meta VALUES (?, 'v')", (str(i),))))
        for i in range(200)
    ]
    await asyncio.sleep(0)
    await s.close()
    await asyncio.gather(*pending)
    s2 = Store(tmp_path / "db.sqlite")
    await s2.open()
    assert await s2.read(lambda q: q.scalar("SELECT COUNT(*) FROM meta")) == 200
    await s2.close()
