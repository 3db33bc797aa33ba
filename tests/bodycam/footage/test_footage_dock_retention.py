"""Dock ingest (copy, verify by a second read, manifest, never touch the source) and retention."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from support.footage import run_station
from support.retention import announce_marked, confirm_received

from devices.simulators.dock import fill_dock
from devices.simulators.uploader import file_sha256
from edge.config import Role
from edge.store import custody
from edge.store import footage as rows
from edge.timeutil import utcnow


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


async def test_dock_copies_verifies_records_and_writes_manifest(footage_config, tmp_path: Path) -> None:
    mount = tmp_path / "dock"
    made = fill_dock(mount, "cam-0001", count=2) + fill_dock(mount, "cam-0002", count=1, seed=7)
    before = _tree(mount)
    config = footage_config(dock_dir=str(mount), dock_settle_s=0, dock_scan_interval_s=3600)
    async with run_station(config) as station:
        dock = station.daemon.footage.dock  # type: ignore[union-attr]
        assert dock is not None
        await dock.scan_once()
        assert await dock.scan_once() == 0  # nothing new the second time
        items = await station.daemon.store.read(lambda q: rows.listing(q, device_id=None, state="good",
                                                                       officer_no=None, limit=10))
        assert sorted(i["sha256"] for i in items) == sorted(file_sha256(p) for p in made)
        assert {i["source"] for i in items} == {"dock"}
        manifest = json.loads((station.footage_root / "manifests" / "cam-0001.json").read_text())
        assert [f["path"] for f in manifest["files"]] == sorted(str(p.relative_to(mount / "cam-0001"))
                                                                for p in made[:2])
        assert all(f["sha256"] and f["footage_id"] for f in manifest["files"])
        history = await station.daemon.store.read(lambda q: custody.history(q, f"footage:{items[0]['id']}"))
        assert history[0].actor.startswith("system:dock:")
        status, body = await station.get("/api/v1/footage/dock/cam-0002/manifest", Role.TECHNICIAN)
        assert status == 200 and len(body["files"]) == 1
        fill_dock(mount, "cam-0001", count=1, seed=20)
        assert await dock.scan_once() == 1
    after = _tree(mount)
    assert {k: v for k, v in after.items() if k in before} == before  # the source is never modified


async def test_dock_copy_cut_by_crash_is_redone(footage_config, tmp_path: Path) -> None:
    mount = tmp_path / "dock"
    made = fill_dock(mount, "cam-0003", count=1)
    config = footage_config(dock_dir=str(mount), dock_settle_s=0, dock_scan_interval_s=3600)
    async with run_station(config) as station:
        # What a crash mid-copy leaves: a 'copying' row, a receiving dock ingest, half a temp copy.
        st = made[0].stat()
        rel = str(made[0].relative_to(mount / "cam-0003"))

        def cut(tx):
            rows.ingest_create(tx, {"id": "d" * 32, "source": "dock", "device_id": "cam-0003",
                                    "actor": "system:dock:cam-0003", "file_name": made[0].name, "length": st.st_size})
            rows.dock_record(tx, device_id="cam-0003", rel_path=rel, size=st.st_size, mtime_ns=st.st_mtime_ns,
                             ingest_id="d" * 32, state="copying")

        await station.daemon.store.write(cut)
        (station.footage_root / "tmp" / ("d" * 32 + ".part")).write_bytes(made[0].read_bytes()[:1000])
    async with run_station(config) as station:
        assert station.daemon.footage.api.reconciliation["removed_dock_copies"] == ["d" * 32]  # type: ignore
        # The stale half copy is gone (the watcher's first scan may already be writing a fresh one).
        assert not (station.footage_root / "tmp" / ("d" * 32 + ".part")).exists()
        await station.daemon.footage.dock.scan_once()  # type: ignore[union-attr]
        row = await station.daemon.store.read(lambda q: rows.good_by_sha(q, file_sha256(made[0])))
        assert row is not None and row["size"] == made[0].stat().st_size


async def test_retention_deletes_only_expired_confirmed_routine_footage(footage_config, tmp_path: Path) -> None:
    async with run_station(footage_config()) as station:
        cam = station.camera()
        paths = []
        for i in range(5):
            path = tmp_path / f"r{i}.mp4"
            path.write_bytes(f"routine footage {i}".encode() * 100)
            paths.append(path)
        await announce_marked(station.daemon.store, paths[4])  # only the camera's announcement marks a file
        ids = {}
        for i, name in enumerate(["expired_acked", "held", "unacked", "unexpired", "marked"]):
            ids[name] = (await cam.upload(paths[i])).footage_id
        past = (utcnow() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

        def age(tx):  # time passes (the retention period is over for these)
            for name in ("expired_acked", "held", "unacked", "marked"):
                tx.execute("UPDATE footage SET retain_until = ? WHERE id = ? AND retain_until IS NOT NULL",
                           (past, ids[name]))

        await station.daemon.store.write(age)
        for name in ("expired_acked", "held", "unexpired", "marked"):  # the central platform's receipts
            row = await station.daemon.store.read(lambda q, n=name: rows.get(q, ids[n]))
            assert row is not None and await confirm_received(station.daemon.store, row["sha256"])
        async with station.session.post(station.url + f"/api/v1/footage/{ids['held']}/hold",
                                        json={"hold": True, "reason": "evidence in case X-1"},
                                        headers=__import__("support.tokens").tokens.auth(Role.SUPERVISOR)) as r:
            assert r.status == 200
        before = await station.daemon.store.read(lambda q: rows.get(q, ids["expired_acked"]))
        assert before is not None
        async with station.session.post(station.url + "/api/v1/footage/retention/run",
                                        headers=__import__("support.tokens").tokens.auth(Role.TECHNICIAN)) as r:
            assert (await r.json())["deleted"] == [ids["expired_acked"]]
        gone = await station.daemon.store.read(lambda q: rows.get(q, ids["expired_acked"]))
        assert gone is not None and gone["state"] == "deleted" and gone["deleted_reason"]  # tombstone kept
        assert not (station.footage_root / before["path"]).exists()
        history = await station.daemon.store.read(lambda q: custody.history(q, f"footage:{ids['expired_acked']}"))
        assert history[-1].action == "footage.deleted" and history[-1].actor == "system:retention"
        for name in ("held", "unacked", "unexpired", "marked"):
            row = await station.daemon.store.read(lambda q, n=name: rows.get(q, ids[n]))
            assert row is not None and row["state"] == "good", name
            assert (station.footage_root / row["path"]).exists()
        status, _ = await station.get(f"/api/v1/footage/{ids['expired_acked']}/content?reason=check")
        assert status == 410
