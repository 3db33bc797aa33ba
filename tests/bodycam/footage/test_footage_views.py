"""Every read of footage metadata by a person is a custody entry, through the real HTTP app: one entry per
read (a listing names every id it returned and the query), with the token's principal as the actor."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from support.cases import T0, footage, iso
from support.footage import Station, run_station
from support.tokens import auth

from devices.simulators.dock import fill_dock
from devices.simulators.media import make_segment
from devices.simulators.uploader import file_sha256
from edge.config import Role
from edge.store import custody, enrolment, expected_footage, footage_views
from edge.timeutil import to_iso, utcnow

SUPERVISOR, TECHNICIAN = "supervisor:test-supervisor", "technician:test-technician"


async def _head(station: Station) -> int:
    return await station.daemon.store.read(lambda q: q.scalar("SELECT coalesce(max(seq), 0) FROM custody_log"))


async def _since(station: Station, seq: int) -> list[custody.CustodyEntry]:
    rows = await station.daemon.store.read(lambda q: [r["subject"] for r in q.all(
        "SELECT DISTINCT subject FROM custody_log WHERE seq > ?", (seq,))])
    found: list[custody.CustodyEntry] = []
    for subject in rows:
        found += await station.daemon.store.read(lambda q, s=subject: custody.history(q, s))
    return sorted((e for e in found if e.seq > seq), key=lambda e: e.seq)


async def _read(station: Station, path: str, role: Role = Role.SUPERVISOR) -> tuple[Any, list[custody.CustodyEntry]]:
    mark = await _head(station)
    status, body = await station.get(path, role)
    assert status == 200, (path, body)
    return body, await _since(station, mark)


async def _clips(station: Station, tmp_path: Path) -> list[int]:
    """Two real recordings of officer 100001's camera, announced over MQTT (as a camera does) and uploaded."""
    now = utcnow()

    def shift(tx: Any) -> None:
        enrolment.add_officer(tx, officer_no="100001", name="Officer One", unit_no="440300000001",
                              unit_name="Unit")
        enrolment.assign(tx, device_id="cam-0001", officer_no="100001", starts_at=now - timedelta(hours=2),
                         ends_at=now + timedelta(hours=2), actor="test")

    await station.daemon.store.write(shift)
    ids = []
    for i in range(2):
        clip = tmp_path / f"clip{i}.mp4"
        make_segment(clip, seconds=1.0, seed=i)
        start, end = now - timedelta(minutes=30 - i), now - timedelta(minutes=29 - i)
        await station.daemon.store.write(lambda tx, c=clip, s=start, e=end: expected_footage.announce(
            tx, device_id="cam-0001", file_name=c.name, officer_no="100001", device_start=s, device_end=e,
            size_bytes=c.stat().st_size, sha256=file_sha256(c), marked=False, sos=False, announced_at=e,
            announced_device_ts=e, deadline_at=now + timedelta(days=1)))
        result = await station.camera().upload(clip, recorded_at=to_iso(start))
        assert result.state == "complete" and result.footage_id is not None
        ids.append(result.footage_id)
    await station.idle()  # probed, thumbnails made
    return ids


async def test_footage_routes_log_every_read(station: Station, tmp_path: Path) -> None:
    ids = await _clips(station, tmp_path)
    body, [entry] = await _read(station, "/api/v1/footage?device=cam-0001&limit=10")
    assert sorted(i["id"] for i in body["items"]) == sorted(ids)
    assert (entry.action, entry.subject, entry.actor) == ("footage.view", "footage:list", SUPERVISOR)
    assert entry.details["ids"] == sorted(ids) and entry.details["query"] == {"device": "cam-0001", "limit": "10"}
    assert entry.details["route"] == "/api/v1/footage"
    body, [entry] = await _read(station, "/api/v1/footage?device=cam-0001", Role.TECHNICIAN)
    assert entry.actor == TECHNICIAN and entry.details["ids"] == sorted(ids)
    _, entries = await _read(station, "/api/v1/footage?device=cam-0404")
    assert entries == []  # nothing returned, nothing seen
    body, [entry] = await _read(station, f"/api/v1/footage/{ids[0]}")
    assert (entry.action, entry.subject, entry.actor) == ("footage.view", f"footage:{ids[0]}", SUPERVISOR)
    assert entry.details["ids"] == [ids[0]]
    mark = await _head(station)
    status, jpeg = await station.get(f"/api/v1/footage/{ids[0]}/thumbnail")
    assert status == 200 and jpeg[:2] == b"\xff\xd8"
    [entry] = await _since(station, mark)
    assert (entry.action, entry.subject, entry.actor) == ("footage.thumbnail_viewed", f"footage:{ids[0]}",
                                                          SUPERVISOR)
    mark = await _head(station)
    async with station.session.get(f"{station.url}/api/v1/footage/{ids[1]}/content?reason=complaint%20review",
                                   headers={**auth(Role.SUPERVISOR), "Range": "bytes=0-99"}) as r:
        assert r.status == 206 and len(await r.read()) == 100
    [entry] = await _since(station, mark)
    assert (entry.action, entry.subject, entry.actor, entry.reason) == (
        "footage.viewed", f"footage:{ids[1]}", SUPERVISOR, "complaint review")
    assert entry.details["range"] == "bytes=0-99"
    # Who has seen file 0's metadata: the listings that included it and its own read.
    seen = await station.daemon.store.read(lambda q: footage_views.views_of(q, ids[0]))
    assert [e.subject for e in seen] == ["footage:list", "footage:list", f"footage:{ids[0]}"]


async def test_case_and_archive_reads_log_one_entry_each(station: Station, tmp_path: Path) -> None:
    ids = await _clips(station, tmp_path)
    now = utcnow()
    case = {"number": "C-VIEW-1", "kind": "incident", "title": "views", "officers": ["100001"],
            "windows": [{"start": iso(now - timedelta(hours=1)), "end": iso(now)}]}
    async with station.session.post(station.url + "/api/v1/cases", json=case, headers=auth(Role.SUPERVISOR)) as r:
        assert r.status == 201
    linked = {link["footage_id"] for link in (await station.get("/api/v1/cases/C-VIEW-1"))[1]["links"]}
    for footage_id in ids:
        if str(footage_id) not in linked:  # matching did not link it: a person does
            async with station.session.post(station.url + "/api/v1/cases/C-VIEW-1/links", headers=auth(
                    Role.SUPERVISOR), json={"footage_id": str(footage_id), "reason": "same incident"}) as r:
                assert r.status == 201
    body, [entry] = await _read(station, "/api/v1/cases/C-VIEW-1")
    assert {link["footage_id"] for link in body["links"]} == {str(i) for i in ids}
    assert (entry.action, entry.subject, entry.actor) == ("footage.view", "footage:list", SUPERVISOR)
    assert entry.details["ids"] == sorted(ids) and entry.details["route"] == "/api/v1/cases/C-VIEW-1"
    body, [entry] = await _read(station, "/api/v1/cases/C-VIEW-1/footage", Role.TECHNICIAN)
    assert len(body["items"]) == 2 and entry.actor == TECHNICIAN and entry.details["ids"] == sorted(ids)
    body, [entry] = await _read(station, f"/api/v1/footage/{ids[1]}/cases")
    assert entry.subject == f"footage:{ids[1]}" and entry.details["ids"] == [ids[1]]
    start, end = iso(now - timedelta(hours=3)), iso(now + timedelta(minutes=1))
    body, [entry] = await _read(station, f"/api/v1/officers/100001/archive?from={start}&to={end}")
    assert sorted(f["id"] for f in body["footage"]) == sorted(ids)
    assert (entry.action, entry.subject, entry.actor) == ("footage.view", "footage:list", SUPERVISOR)
    assert entry.details["ids"] == sorted(ids) and entry.details["query"] == {"from": start, "to": end}
    assert (await station.daemon.store.read(custody.verify)).ok


async def test_review_queue_and_dock_manifest_reads_are_logged(footage_config, tmp_path: Path) -> None:
    mount = tmp_path / "dock"
    made = fill_dock(mount, "cam-0001", count=2)
    config = footage_config(dock_dir=str(mount), dock_settle_s=0, dock_scan_interval_s=3600)
    async with run_station(config) as station:
        dock = station.daemon.footage.dock  # type: ignore[union-attr]
        assert dock is not None
        await dock.scan_once()  # after the start-up scan, which may have taken them already
        # A technician (a person) reads the manifest: ids and hashes of footage, so a footage.view.
        body, [entry] = await _read(station, "/api/v1/footage/dock/cam-0001/manifest", Role.TECHNICIAN)
        ids = sorted(f["footage_id"] for f in body["files"])
        assert len(ids) == len(made) and (entry.action, entry.subject, entry.actor) == (
            "footage.view", "footage:list", TECHNICIAN)
        assert entry.details["ids"] == ids and entry.details["route"] == "/api/v1/footage/dock/cam-0001/manifest"
        # The camera itself reading its manifest is no person's read.
        mark = await _head(station)
        async with station.session.get(station.url + "/api/v1/footage/dock/cam-0001/manifest",
                                       headers=station.camera().auth_headers) as r:
            assert r.status == 200 and len((await r.json())["files"]) == 2
        assert await _since(station, mark) == []

        # Two overlapping cases put one file in review: reading the queue is one footage.view.
        for n, (a, b) in enumerate([(0, 60), (15, 45)]):
            case = {"number": f"C-RV-{n}", "kind": "incident", "title": "overlap", "officers": ["100001"],
                    "windows": [{"start": iso(T0 + timedelta(minutes=a)), "end": iso(T0 + timedelta(minutes=b))}]}
            async with station.session.post(station.url + "/api/v1/cases", json=case,
                                            headers=auth(Role.SUPERVISOR)) as r:
                assert r.status == 201
        assert station.daemon.cases is not None
        changes = await station.daemon.cases.domain.footage_arrived(
            footage(str(ids[0]), "100001", T0 + timedelta(minutes=20), 20))
        assert {c.state for c in changes} == {"review"}
        body, [entry] = await _read(station, "/api/v1/review?state=open")
        assert {i["footage_id"] for i in body["items"]} == {str(ids[0])}
        assert (entry.action, entry.subject, entry.actor) == ("footage.view", f"footage:{ids[0]}", SUPERVISOR)
        assert (await station.daemon.store.read(custody.verify)).ok
