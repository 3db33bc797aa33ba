"""The demo's simulated day end to end: real broker with ACLs, the scripted camera fleet over MQTT, real
PyAV segments uploaded over tus, the central simulator's case feed — and the station's links (with
provenance), its one review item and its warnings (with colours), read through the HTTP API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.bodycam import DAEMON_PASSWORD, DAEMON_USER
from support.tokens import auth

from devices.simulators.central import start_central
from devices.simulators.central.day import LEAD, SimulatedDay, quiet_fleet
from edge.bodycam.enrolment import Enrolment
from edge.broker import Broker, BrokerConfig, free_port
from edge.config import Config, Role
from edge.daemon import Daemon
from edge.store import Store
from edge.timeutil import utcnow

pytestmark = pytest.mark.slow


async def get(base: str, path: str, *, missing_ok: bool = False) -> Any:
    async with aiohttp.ClientSession() as s, s.get(base + path, headers=auth(Role.SUPERVISOR)) as r:
        if missing_ok and r.status == 404:
            return None
        assert r.status == 200, await r.text()
        return await r.json()


# Ceilings on conditions, not timing claims: alone the whole day runs in about 13 s, but on a busy machine
# (two CPU hogs on two cores) the first link alone took longer than the 10 s this used to allow.
CEILING_S = 60.0


async def until(check: Callable[[], Any], timeout: float) -> Any:
    async with asyncio.timeout(timeout):
        while not (found := await check()):
            await asyncio.sleep(0.2)
    return found


@pytest.mark.timeout(600)  # several generous ceilings in a row: above the suite's default of 120 s
async def test_simulated_day(tmp_path: Path, make_config: Callable[..., Config]) -> None:
    port = free_port()
    start = utcnow().replace(microsecond=0) - LEAD

    def config(pid: int | None, feed: str = "") -> Config:
        return make_config(
            None, mqtt={"url": f"mqtt://127.0.0.1:{port}", "username": DAEMON_USER, "password": DAEMON_PASSWORD},
            services={"mqtt": True, "bodycam": True},
            bodycam={"broker_dir": str(tmp_path / "broker"), "broker_reload": "signal",
                     "broker_pid_file": str(tmp_path / "broker" / "mosquitto.pid")},
            footage={"probe_pool": "thread"},
            cases={"feed": {"url": feed, "poll_interval_s": 0.3, "backoff_min_s": 0.1, "backoff_max_s": 0.5},
                   "compliance": {"interval_s": 0.5, "undocked_max_h": 5.0}})

    first = config(None)
    store = Store(first.database_path)
    await store.open()
    await Enrolment(first, store).provision()
    await store.close()
    broker = Broker(BrokerConfig(tmp_path / "broker", port, allow_anonymous=False,
                                 password_file=first.bodycam.broker_password_file,
                                 acl_file=first.bodycam.broker_acl_file))
    await broker.start()
    stop = asyncio.Event()
    try:
        async with start_central(seed=42, start=start, paused=True, late_after_polls=10**9,
                                 fleet=quiet_fleet("unused")) as central:
            daemon = Daemon(config(broker.pid, central.url))
            run = asyncio.create_task(daemon.run(stop))
            await asyncio.wait_for(daemon.ready.wait(), 60)
            assert daemon.http is not None and daemon.link is not None
            await daemon.link.wait_connected(30)
            base = f"http://127.0.0.1:{daemon.http.bound_port}"
            (tmp_path / "segments").mkdir()
            day = SimulatedDay(port, base, tmp_path / "segments", daemon.config.station.id, start)
            assert [i.record for i in day.scenario.incidents] == [i.record for i in central.scenario.incidents]
            try:
                await day.enrol(daemon)
                central.state.resume()
                await day.run()
                numbers = {i.name: i.record["number"] for i in central.scenario.incidents}
                # Everything on time is linked before the late case is published ...
                await until(lambda: _state(base, numbers["with-footage"], "linked"), CEILING_S)
                central.state.release_late()
                # ... which then re-links footage ingested before the case was known.
                await until(lambda: _state(base, numbers["late"], "linked"), CEILING_S)
                await _check_links(base, numbers, day)
                await _check_warnings(base, numbers)
                await _check_archive(base, day, numbers)
            finally:
                day.close()
                stop.set()
                assert await asyncio.wait_for(run, 15) == 0
    finally:
        await broker.stop()


async def _state(base: str, number: str, state: str) -> bool:
    case = await get(base, f"/api/v1/cases/{number}", missing_ok=True)
    return case is not None and any(link["state"] == state for link in case["links"])


async def _check_links(base: str, numbers: dict[str, str], day: SimulatedDay) -> None:
    links = {name: (await get(base, f"/api/v1/cases/{n}"))["links"] for name, n in numbers.items()}
    states = {name: sorted(link["state"] for link in found) for name, found in links.items()}
    assert states == {"with-footage": ["linked"], "tagged": ["linked"], "no-footage": [], "overlap-a": ["review"],
                      "overlap-b": ["linked"], "late": ["linked"]}
    rules = {name: found[0]["provenance"]["rule"] for name, found in links.items() if found}
    assert rules == {"with-footage": "score_at_or_above_link_threshold", "tagged": "case_tag",
                     "overlap-a": "score_between_thresholds", "overlap-b": "score_at_or_above_link_threshold",
                     "late": "score_at_or_above_link_threshold"}
    # GPS put cam 4 at overlap-b and ~8 km from overlap-a: place decides, time alone could not.
    a, b = links["overlap-a"][0]["provenance"], links["overlap-b"][0]["provenance"]
    assert a["components"]["place"] == 0 and b["components"]["place"] == 1
    assert a["components"]["time"] == b["components"]["time"] == 1
    assert {link["actor"] for found in links.values() for link in found} == {"system:case-linker"}
    review = (await get(base, "/api/v1/review"))["items"]
    assert [(i["case_number"], i["state"]) for i in review] == [(numbers["overlap-a"], "open")]
    # The case's footage: hashes and the custody chain (ingest, link, and this very read).
    footage = (await get(base, f"/api/v1/cases/{numbers['tagged']}/footage"))["items"]
    [item] = footage
    assert item["footage"]["sha256"] and item["footage"]["file_name"] in day.uploaded
    actions = [e["action"] for e in item["custody"]]
    assert actions[0] == "footage.ingested" and "case.link" in actions
    assert str(day.uploaded[item["footage"]["file_name"]]) == item["footage_id"]
    again = (await get(base, f"/api/v1/footage/{item['footage_id']}/cases"))
    assert [link["case_number"] for link in again["links"]] == [numbers["tagged"]]
    assert again["footage"]["hold"] is not None and again["footage"]["hold_reason"] == f"case:{numbers['tagged']}"


async def _warnings(base: str) -> list[tuple[str, str, str]]:
    items = (await get(base, "/api/v1/compliance"))["items"]
    return sorted((i["kind"], i["subject"], i["details"]["colour"]) for i in items)


async def _check_warnings(base: str, numbers: dict[str, str]) -> None:
    expected = sorted([
        ("compliance.officer_without_footage", f"case:{numbers['no-footage']}", "red"),
        ("compliance.sequence_gap", "device:cam-0006", "blue"),
        *[("compliance.camera_undocked", f"device:cam-{i:04d}", "yellow") for i in range(1, 7)],
    ])

    async def settled() -> bool:
        return await _warnings(base) == expected

    try:
        await until(settled, CEILING_S)
    except TimeoutError:
        assert await _warnings(base) == expected


async def _check_archive(base: str, day: SimulatedDay, numbers: dict[str, str]) -> None:
    cam = day.scenario.roster[3]  # overlap officer
    archive = await get(base, f"/api/v1/officers/{cam.officer.number}/archive?from="
                              f"{(day.start).isoformat().replace('+00:00', 'Z')}")
    assert archive["devices"] == [cam.device_id] and len(archive["shifts"]) == 1
    assert {c["number"] for c in archive["cases"]} == {numbers["overlap-a"], numbers["overlap-b"]}
    [footage] = archive["footage"]
    assert sorted(link["state"] for link in footage["links"]) == ["linked", "review"]
    assert ("compliance.camera_undocked", "yellow") in {(w["kind"], w["details"]["colour"])
                                                        for w in archive["warnings"]}
