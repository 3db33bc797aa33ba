"""Retention is safe: a file a live row names is never deleted, and every keep reason is re-checked inside the
deleting transaction (the reason made to appear after the selection, before the deletion)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support.cases import T0, footage, iso
from support.footage import Station, run_station
from support.retention import announce_marked, confirm_received, past_routine_retention
from support.tokens import auth

from devices.simulators.uploader import file_sha256
from edge.bodycam.footage.retention import Retention
from edge.config import Role
from edge.store import custody, expected_footage
from edge.store import footage as rows
from edge.store import retention as rules
from edge.timeutil import from_iso, to_iso, utcnow

M = timedelta(minutes=1)


def _retention(station: Station) -> Retention:
    assert station.daemon.footage is not None
    return station.daemon.footage.retention


def _media(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(os.urandom(20_000))
    return path


async def _row(station: Station, footage_id: int) -> dict[str, Any]:
    row = await station.daemon.store.read(lambda q: rows.get(q, footage_id))
    assert row is not None
    return row


async def _post(station: Station, path: str, body: dict[str, Any], method: str = "POST") -> tuple[int, Any]:
    async with station.session.request(method, station.url + path, json=body, headers=auth(Role.SUPERVISOR)) as r:
        return r.status, await r.json(content_type=None)


async def test_identical_bytes_ingested_again_after_a_deletion_are_kept(footage_config, tmp_path: Path) -> None:
    config = footage_config()
    data = _media(tmp_path, "same.mp4")
    sha = file_sha256(data)
    async with run_station(config) as station:
        retention = _retention(station)
        first = await station.camera().upload(data)
        assert await confirm_received(station.daemon.store, sha)
        later = past_routine_retention()
        assert await retention.run_once(now=later) == [first.footage_id]
        old = await _row(station, first.footage_id)
        assert old["state"] == "deleted" and not (station.footage_root / old["path"]).exists()
        # The camera sends the same bytes again: a new row, on the same path, with the file back.
        again = await station.camera("cam-0002").upload(data)
        assert again.state == "complete" and again.footage_id != first.footage_id
        new = await _row(station, again.footage_id)
        assert new["state"] == "good" and new["path"] == old["path"]
        assert (station.footage_root / new["path"]).read_bytes() == data.read_bytes()
        # The old receipt confirmed the old row only: the new one waits for its own.
        assert await retention.run_once(now=later) == []
        reasons = await station.daemon.store.read(lambda q: rules.keep_reasons(q, again.footage_id, to_iso(later)))
        assert reasons == ["not_confirmed"]
    async with run_station(config) as station:  # start-up reconciliation sees the tombstone on the same path
        report = station.daemon.footage.api.reconciliation  # type: ignore[union-attr]
        assert report["repaired"] == [] and report["rows_without_files"] == []
        assert (station.footage_root / new["path"]).exists()
        assert (await _row(station, again.footage_id))["state"] == "good"
        # With its own receipt it goes the ordinary way; the tombstone is untouched.
        assert await confirm_received(station.daemon.store, sha, reference="central-object-2")
        assert await _retention(station).run_once(now=past_routine_retention()) == [again.footage_id]
        assert not (station.footage_root / new["path"]).exists()
        assert (await station.daemon.store.read(custody.verify)).ok


Inject = Callable[[Station, dict[str, Any]], Awaitable[None]]


async def _supervisor_hold(station: Station, row: dict[str, Any]) -> None:
    status, _ = await _post(station, f"/api/v1/footage/{row['id']}/hold", {"hold": True, "reason": "court order"})
    assert status == 200


def _announce(row: dict[str, Any], *, marked: bool) -> Callable[[Any], None]:
    def write(tx: Any) -> None:
        now = utcnow()
        expected_footage.announce(
            tx, device_id=row["device_id"], file_name=row["file_name"], officer_no=None, device_start=now - M,
            device_end=now, size_bytes=row["size"], sha256=row["sha256"], marked=marked, sos=False,
            announced_at=now, announced_device_ts=now, deadline_at=now + timedelta(days=1))
        expected_footage.fulfil(tx, row["device_id"], row["file_name"], row["size"], row["sha256"], str(row["id"]))

    return write


async def _marked_announcement(station: Station, row: dict[str, Any]) -> None:
    await station.daemon.store.write(_announce(row, marked=True))


async def _sos_since(station: Station, row: dict[str, Any]) -> None:
    await station.daemon.store.write(_announce(row, marked=False))
    # An SOS covering the recording is raised after it was ingested (issue 3's hold on the announcement).
    assert await station.daemon.store.write(lambda tx: expected_footage.hold(
        tx, row["device_id"], "sos", file_name=row["file_name"])) == 1


async def _linked_case(station: Station, row: dict[str, Any]) -> None:
    case = {"number": "C-KEEP-1", "kind": "incident", "title": "keep", "officers": ["100001"],
            "windows": [{"start": iso(T0), "end": iso(T0 + 60 * M)}]}
    assert (await _post(station, "/api/v1/cases", case))[0] == 201
    status, _ = await _post(station, "/api/v1/cases/C-KEEP-1/links",
                            {"footage_id": str(row["id"]), "reason": "seen at the scene"})
    assert status == 201


async def _in_review(station: Station, row: dict[str, Any]) -> None:
    for n, (a, b) in enumerate([(0, 60), (15, 45)]):
        case = {"number": f"C-REV-{n}", "kind": "incident", "title": "overlap", "officers": ["100001"],
                "windows": [{"start": iso(T0 + a * M), "end": iso(T0 + b * M)}]}
        assert (await _post(station, "/api/v1/cases", case))[0] == 201
    assert station.daemon.cases is not None
    changes = await station.daemon.cases.domain.footage_arrived(footage(str(row["id"]), "100001", T0 + 20 * M, 20))
    assert {c.state for c in changes} == {"review"}


@pytest.mark.parametrize(("inject", "expected"), [
    (_supervisor_hold, {"held"}),
    (_marked_announcement, {"announced_hold"}),
    (_sos_since, {"announced_hold"}),
    (_linked_case, {"case_link", "held"}),
    (_in_review, {"case_link", "open_review"}),
], ids=["supervisor", "marked-announcement", "sos", "case-linked", "review"])
async def test_a_keep_reason_arriving_after_selection_blocks_the_deletion(
        footage_config, tmp_path: Path, inject: Inject, expected: set[str]) -> None:
    async with run_station(footage_config()) as station:
        retention = _retention(station)
        uploaded = await station.camera().upload(_media(tmp_path, "keep.mp4"))
        row = await _row(station, uploaded.footage_id)
        assert await confirm_received(station.daemon.store, row["sha256"])
        stamp = to_iso(past_routine_retention())
        [candidate] = await retention.candidates(stamp)  # selected for deletion ...
        assert candidate["id"] == row["id"]
        await inject(station, row)  # ... then a reason to keep it arrives
        reasons = await station.daemon.store.read(lambda q: rules.keep_reasons(q, row["id"], stamp))
        assert expected <= set(reasons)
        assert await retention.delete(candidate, stamp) is False
        assert await retention.candidates(stamp) == []  # the selection agrees
        assert (await _row(station, row["id"]))["state"] == "good"
        assert (station.footage_root / row["path"]).exists()


async def test_unconfirmed_or_unexpired_footage_is_never_selected(footage_config, tmp_path: Path) -> None:
    async with run_station(footage_config()) as station:
        retention = _retention(station)
        unconfirmed = await station.camera().upload(_media(tmp_path, "a.mp4"))
        confirmed = await station.camera().upload(_media(tmp_path, "b.mp4"))
        row = await _row(station, confirmed.footage_id)
        assert await confirm_received(station.daemon.store, row["sha256"])
        assert await retention.run_once() == []  # nothing expired yet
        stamp = to_iso(past_routine_retention())
        assert [c["id"] for c in await retention.candidates(stamp)] == [confirmed.footage_id]
        reasons = await station.daemon.store.read(lambda q: rules.keep_reasons(q, unconfirmed.footage_id, stamp))
        assert reasons == ["not_confirmed"]


async def test_people_cannot_release_the_cameras_holds(footage_config, tmp_path: Path) -> None:
    async with run_station(footage_config()) as station:
        await announce_marked(station.daemon.store, media := _media(tmp_path, "m.mp4"))
        marked = await station.camera().upload(media, marked=True)
        status, body = await _post(station, f"/api/v1/footage/{marked.footage_id}/hold",
                                   {"hold": False, "reason": "tidy up"})
        assert status == 409 and body["type"].endswith(":marked-footage")
        sos = await station.camera().upload(_media(tmp_path, "s.mp4"))
        await _sos_since(station, await _row(station, sos.footage_id))
        status, body = await _post(station, f"/api/v1/footage/{sos.footage_id}/hold",
                                   {"hold": False, "reason": "tidy up"})
        assert status == 409 and body["type"].endswith(":sos-footage")
        assert (await _row(station, sos.footage_id))["state"] == "good"
        # A supervisor's release of a case-linked file leaves the case's hold in place.
        linked = await station.camera().upload(_media(tmp_path, "c.mp4"))
        row = await _row(station, linked.footage_id)
        await _supervisor_hold(station, row)
        await _linked_case(station, row)
        status, body = await _post(station, f"/api/v1/footage/{row['id']}/hold", {"hold": False, "reason": "done"})
        assert status == 200 and body["hold"] is True and body["hold_reason"] == "case:C-KEEP-1"
        assert body["retain_until"] is None
        history = await station.daemon.store.read(lambda q: custody.history(q, f"footage:{row['id']}"))
        released = [e for e in history if e.action == "footage.hold_released"]
        assert released[-1].details["still_held"] is True and released[-1].actor == "supervisor:test-supervisor"


async def test_releasing_a_case_hold_uses_the_configured_retention(footage_config, tmp_path: Path) -> None:
    async with run_station(footage_config(routine_retention_days=200)) as station:
        uploaded = await station.camera().upload(_media(tmp_path, "r.mp4"))
        row = await _row(station, uploaded.footage_id)
        await _linked_case(station, row)
        held = await _row(station, row["id"])
        assert held["hold"] and held["retain_until"] is None
        status, _ = await _post(station, f"/api/v1/cases/C-KEEP-1/links/{row['id']}", {"reason": "wrong file"},
                                method="DELETE")
        assert status == 200
        released = await _row(station, row["id"])
        assert not released["hold"] and released["hold_reason"] is None
        assert from_iso(released["retain_until"]) == from_iso(released["ingested_at"]) + timedelta(days=200)


async def test_the_same_bytes_arriving_during_a_deletion_are_stored_anew(footage_config, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Retention is held inside its unlink (the OS call blocks) while the camera sends the same bytes again:
    the new upload waits for the deletion to finish, then stores its own file (never registers the old one)."""
    data = _media(tmp_path, "race.mp4")
    reached, release = threading.Event(), threading.Event()
    real_unlink = os.unlink

    def slow_unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        if f"{os.sep}files{os.sep}" in os.fsdecode(os.fspath(path)) and not release.is_set():
            reached.set()
            assert release.wait(60)
        real_unlink(path, *args, **kwargs)

    async with run_station(footage_config()) as station:
        first = await station.camera().upload(data)
        assert await confirm_received(station.daemon.store, file_sha256(data))
        monkeypatch.setattr(os, "unlink", slow_unlink)
        deleting = asyncio.create_task(_retention(station).run_once(now=past_routine_retention()))
        assert await asyncio.to_thread(reached.wait, 60)  # tombstone committed, unlink under way
        uploading = asyncio.create_task(station.camera("cam-0002").upload(data))
        done, _ = await asyncio.wait({uploading}, timeout=2)
        assert not done  # waits for the deletion of the same content to finish
        release.set()
        assert await deleting == [first.footage_id]
        again = await uploading
        assert again.state == "complete" and again.footage_id != first.footage_id
        row = await _row(station, again.footage_id)
        assert row["state"] == "good" and (station.footage_root / row["path"]).read_bytes() == data.read_bytes()
