"""Signed checkpoints against an attacker who holds the database (but not the checkpoints already
signed), the station key on disk, and the checkpoint service in the daemon."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from support.custody import STATION, cli, config_file, make_log, rechain_from, sqlite3_cli
from support.tokens import auth

from edge.config import Config, Role
from edge.custody import keys
from edge.custody.config import CustodyConfig
from edge.custody.service import CheckpointService
from edge.daemon import Daemon
from edge.store import Store, checkpoints, custody


@pytest.fixture
async def station(tmp_path: Path) -> tuple[Path, Path]:
    """25 entries, checkpoints signed at entries 10 and 20 (and 25 at the service's clean stop)."""
    data = tmp_path / "data"
    db = await make_log(data, 25, checkpoint_at=(10, 20))
    return db, config_file(tmp_path, data)


def test_an_intact_log_verifies_through_every_checkpoint(station: tuple[Path, Path]) -> None:
    _, config = station
    result = cli("audit", "verify", "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["entries"] == 25 and report["checkpoints"] == 3
    assert report["last_checkpoint_seq"] == 25 and report["key_pinned"] is True


def test_a_rechained_rewrite_is_named_at_the_first_checkpoint_it_contradicts(station: tuple[Path, Path]) -> None:
    db, config = station
    rechain_from(db, 14, "nothing to see")
    # Every hash was recomputed and the guards put back as shipped: only a checkpoint can tell.
    rows = json.loads(sqlite3_cli(db, ".mode json\nSELECT seq, reason FROM custody_log WHERE seq = 14;").stdout)
    assert rows == [{"seq": 14, "reason": "nothing to see"}]
    result = cli("audit", "verify", "--config", str(config))
    assert result.returncode == 1
    assert "BROKEN at entry 20: disagrees with the checkpoint signed" in result.stderr
    assert "rewritten after entry 10, at or before this entry" in result.stderr


def test_a_rewrite_of_the_newest_entry_is_named_by_the_last_checkpoint(station: tuple[Path, Path]) -> None:
    db, config = station
    rechain_from(db, 25, "rewritten last entry")
    result = cli("audit", "verify", "--config", str(config))
    assert result.returncode == 1 and "BROKEN at entry 25: disagrees with the checkpoint" in result.stderr


def test_deleting_the_tail_before_the_last_checkpoint_is_detected(station: tuple[Path, Path]) -> None:
    db, config = station
    sqlite3_cli(db, "DROP TRIGGER custody_log_no_delete; DELETE FROM custody_log WHERE seq > 17;"
                    "CREATE TRIGGER custody_log_no_delete BEFORE DELETE ON custody_log\nBEGIN\n"
                    "    SELECT RAISE(ABORT, 'custody_log is append-only');\nEND;")
    result = cli("audit", "verify", "--config", str(config))
    assert result.returncode == 1
    assert "BROKEN at entry 18: entries 18 to 25 are missing: the log ends at entry 17" in result.stderr


def test_a_checkpoint_resigned_with_another_key_fails_against_the_station_key(station: tuple[Path, Path],
                                                                              tmp_path: Path) -> None:
    """An attacker with the database but not the key signs a checkpoint of their rewritten chain."""
    db, config = station
    rechain_from(db, 22, "rewritten")
    other = keys.create_key(tmp_path / "attacker.pem")
    head = json.loads(sqlite3_cli(db, ".mode json\nSELECT hash FROM custody_log WHERE seq = 25;").stdout)[0]["hash"]
    from edge.custody.chain import checkpoint_message

    at = "2030-01-01T00:00:00.000000Z"
    signature = keys.sign(other, checkpoint_message(STATION, 25, head, at))
    sqlite3_cli(db, "DROP TRIGGER custody_checkpoint_countersign_once; DROP TRIGGER custody_checkpoint_no_delete;"
                    " DELETE FROM custody_checkpoint WHERE seq = 25;"
                    f" INSERT INTO custody_checkpoint VALUES (25, '{head}', '{at}', '{STATION}',"
                    f" '{keys.public_b64(other)}', '{signature}', NULL, NULL);")
    result = cli("audit", "verify", "--config", str(config))
    assert result.returncode == 1
    assert "checkpoint at entry 25 is signed by key" in result.stderr and "(wrong key)" in result.stderr


def test_the_key_file_is_created_private_and_pubkey_prints_it(station: tuple[Path, Path]) -> None:
    db, config = station
    key_file = db.parent / "custody-ed25519.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    pem = cli("audit", "pubkey", "--config", str(config))
    raw = cli("audit", "pubkey", "--config", str(config), "--raw")
    assert pem.returncode == 0 and pem.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    assert keys.parse_public_key(pem.stdout) == raw.stdout.strip() == keys.public_b64(keys.read_key(key_file))


def test_pubkey_without_a_key_yet_says_when_it_is_made(tmp_path: Path) -> None:
    result = cli("audit", "pubkey", "--config", str(config_file(tmp_path, tmp_path / "fresh")))
    assert result.returncode == 1 and "the daemon creates it at first start" in result.stderr


async def test_a_configured_key_file_must_exist(tmp_path: Path) -> None:
    store = Store(tmp_path / "station.db")
    await store.open()
    try:
        service = CheckpointService(CustodyConfig(key_file=tmp_path / "provisioned.pem"), store, STATION, tmp_path)
        with pytest.raises(keys.StationKeyError, match=r"custody.key_file .*provisioned\.pem does not exist"):
            await service.__aenter__()
        assert not (tmp_path / "provisioned.pem").exists()
    finally:
        await store.close()


async def test_the_countersignature_is_recorded_once(station: tuple[Path, Path]) -> None:
    db, _ = station
    store = Store(db)
    await store.open()
    try:
        assert await store.write(lambda tx: checkpoints.record_countersignature(tx, 10, "central-sig", at="t1"))
        assert not await store.write(lambda tx: checkpoints.record_countersignature(tx, 10, "central-sig", at="t2"))
        with pytest.raises(ValueError, match="already carries a different countersignature"):
            await store.write(lambda tx: checkpoints.record_countersignature(tx, 10, "other", at="t3"))
        with pytest.raises(ValueError, match="no custody checkpoint at entry 11"):
            await store.write(lambda tx: checkpoints.record_countersignature(tx, 11, "central-sig", at="t3"))
        row = await store.read(lambda q: q.one("SELECT countersignature, countersigned_at FROM custody_checkpoint"
                                               " WHERE seq = 10"))
        assert row == {"countersignature": "central-sig", "countersigned_at": "t1"}
        assert (await store.read(custody.verify)).ok
    finally:
        await store.close()


async def _wait_for(condition: Callable[[], object], timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():  # type: ignore[misc]
            await asyncio.sleep(0.05)


async def _append(store: Store, count: int) -> None:
    for n in range(count):
        await store.write(lambda tx, n=n: custody.append(tx, actor="technician:ops", action="device.enrol",
                                                         subject=f"device:cam-{n:04d}", reason="test"))


async def _checkpoint_rows(store: Store) -> list[dict[str, object]]:
    return await store.read(lambda q: q.all(
        "SELECT c.seq, o.kind, o.priority, o.payload FROM custody_checkpoint c"
        " JOIN outbox o ON o.dedupe_key = 'custody.checkpoint:' || c.station || ':' || c.seq ORDER BY c.seq"))


async def test_the_daemon_checkpoints_by_count_and_at_shutdown(make_config: Callable[..., Config]) -> None:
    config = make_config(None, services={"bodycam": False, "cases": False},
                         custody={"checkpoint_every_entries": 5, "checkpoint_every_minutes": 60})
    daemon = Daemon(config)
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop))
    try:
        await asyncio.wait_for(daemon.ready.wait(), 30)
        store = daemon.store
        await _append(store, 4)
        await asyncio.sleep(2.5)  # the service looks every second: four entries are not yet five
        assert await store.read(checkpoints.latest) is None
        await _append(store, 3)
        await _wait_for(lambda: _has_checkpoint_at(store, 7))
        await _append(store, 2)  # below the count, an hour before the time: signed only at the stop
        assert daemon.http is not None
        async with aiohttp.ClientSession() as session, session.get(
                f"http://127.0.0.1:{daemon.http.bound_port}/api/v1/audit/verify", headers=auth(Role.SUPERVISOR)) as r:
            report = await r.json()
        assert r.status == 200 and report["ok"] and report["entries"] == 9 and report["checkpoints"] == 1
        assert report["last_checkpoint_seq"] == 7 and report["key_pinned"] is True
        assert report["notes"] == ["2 newer entries not yet checkpointed"]
    finally:
        stop.set()
        assert await asyncio.wait_for(run, 30) == 0
    store = Store(config.database_path)
    await store.open()
    try:
        rows = await _checkpoint_rows(store)
        assert [r["seq"] for r in rows] == [7, 9]
        assert {(r["kind"], r["priority"]) for r in rows} == {("custody.checkpoint", 1)}
        payload = json.loads(str(rows[0]["payload"]))
        assert payload["station"] == config.station.id and payload["seq"] == 7 and payload["signature"]
        public = keys.station_public_key(config.custody.key_path(config.station.data_dir))
        result = await store.read(lambda q: custody.verify(q, public_key=public))
        assert result.ok and result.checkpoints == 2 and result.key_pinned
    finally:
        await store.close()


async def test_the_service_checkpoints_by_time_only_while_the_head_moves(tmp_path: Path) -> None:
    store = Store(tmp_path / "station.db")
    await store.open()
    service = CheckpointService(CustodyConfig(checkpoint_every_entries=1000, checkpoint_every_minutes=0.04),
                                store, STATION, tmp_path)
    try:
        async with service:
            serving = asyncio.create_task(service.serve())
            await _append(store, 2)
            await _wait_for(lambda: _has_checkpoint_at(store, 2))
            await asyncio.sleep(5)  # two intervals with the head standing still
            assert [r["seq"] for r in await _checkpoint_rows(store)] == [2]
            await _append(store, 1)
            await _wait_for(lambda: _has_checkpoint_at(store, 3))
            serving.cancel()
        assert [r["seq"] for r in await _checkpoint_rows(store)] == [2, 3]
        assert (await store.read(custody.verify)).ok
    finally:
        await store.close()


async def _has_checkpoint_at(store: Store, seq: int) -> bool:
    latest = await store.read(checkpoints.latest)
    return latest is not None and latest.seq >= seq
