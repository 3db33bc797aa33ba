"""The simulated central platform: a feed consistent with the camera fleet of the same seed, paging,
ETag, the late case, and the scenario's expected outcome through the real case domain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from devices.simulators.bodycam_fleet import BodycamFleet
from devices.simulators.central import build_scenario, start_central
from edge.alerts import AlertBus
from edge.cases.compliance_service import ComplianceService
from edge.cases.config import CasesConfig, FeedConfig
from edge.cases.domain import CaseDomain
from edge.cases.feed import CaseFeed
from edge.cases.model import FootageFacts, TrackPoint
from edge.cli import build_parser
from edge.store import Store
from edge.store import cases as rows

START = datetime(2024, 6, 1, 0, 0, tzinfo=UTC)


def test_scenario_names_the_fleets_officers_and_is_deterministic() -> None:
    scenario = build_scenario(42, START)
    fleet = BodycamFleet(6, seed=42, start=START)
    officers = {c.officer.number for c in fleet.cameras}
    for incident in scenario.incidents:
        assert set(incident.record["officers"]) <= officers
    assert build_scenario(42, START).incidents == scenario.incidents
    assert build_scenario(43, START).incidents != scenario.incidents
    assert [i.expect for i in scenario.incidents].count("review") == 1
    assert sum(i.late for i in scenario.incidents) == 1
    # The script drives real cameras: a recording during the incident produces a file with that officer.
    step = next(s for s in scenario.script if s.device_id == "cam-0001")
    for s in scenario.steps_between(timedelta(0), step.at):
        s.apply(fleet)
    assert fleet.camera(step.device_id).ident.officer.number in scenario.incidents[0].record["officers"]


def test_cli_has_sim_central() -> None:
    args = build_parser().parse_args(["sim", "central", "--port", "0", "--seed", "7"])
    assert args.seed == 7 and args.port == 0 and callable(args.func)


async def test_feed_pages_and_releases_the_late_case() -> None:
    async with start_central(seed=42, start=START, late_after_polls=2) as sim, aiohttp.ClientSession() as s:
        async with s.get(f"{sim.url}/api/v1/cases", params={"since": "", "limit": "2"}) as r:
            page = await r.json()
        assert len(page["records"]) == 2 and page["more"] and page["next"] == "2"
        async with s.get(f"{sim.url}/api/v1/cases", params={"since": "2"}) as r:
            page = await r.json()
            etag = r.headers["ETag"]
        assert not page["more"] and all(not i.late or i.record not in page["records"]
                                        for i in sim.scenario.incidents)
        async with s.get(f"{sim.url}/api/v1/cases", params={"since": page["next"]}) as r:
            late = await r.json()  # third poll: released
        assert [rec["title"] for rec in late["records"]] == ["Lost child"]
        async with s.get(f"{sim.url}/api/v1/cases", params={"since": "x"}) as r:
            assert r.status == 400
        assert etag


async def test_scenario_through_the_case_domain(tmp_path: Path) -> None:
    """Footage as the scripted recordings would produce it (officer, corrected time, tags): the expected
    links, the review items, and the warning for the case without footage."""
    now = START + timedelta(hours=1, minutes=30)
    store = Store(tmp_path / "db")
    await store.open()
    try:
        async with start_central(seed=42, start=START, late_after_polls=1) as sim:
            config = CasesConfig(feed=FeedConfig(url=sim.url))
            domain = CaseDomain(store, config, "ST-1", clock=lambda: now)
            await domain.load()
            scenario = sim.scenario
            officer = {c.device_id: c.officer.number for c in scenario.roster}
            starts = {}
            for step in scenario.script:
                if step.action == "record_start":
                    starts[step.device_id] = step.at
                elif step.action == "record_stop":
                    t0 = START + starts.pop(step.device_id)
                    tags = frozenset(s.case_no for s in scenario.script
                                     if s.action == "case_tag" and s.device_id == step.device_id and s.case_no)
                    # In the patrol area, as the fleet's walkers are: GPS tells overlap-b from overlap-a.
                    track = (TrackPoint(t0 + timedelta(minutes=1), 22.5431, 114.0579),)
                    await domain.footage_arrived(FootageFacts(f"{step.device_id}-{step.at}", officer[step.device_id],
                                                              t0, START + step.at, track, tags))
            feed = CaseFeed(domain, config.feed)
            async with aiohttp.ClientSession() as session:
                while (await feed.poll_once(session)).more or feed.polls < 3:
                    pass
            numbers = {i.name: i.record["number"] for i in scenario.incidents}
            states = {}
            for name, number in numbers.items():
                links = await store.read(lambda q, n=number: rows.links_for_case(q, n))
                states[name] = sorted({link["state"] for link in links})
            assert states == {"with-footage": ["linked"], "tagged": ["linked"], "no-footage": [],
                              "overlap-a": ["review"], "overlap-b": ["linked"], "late": ["linked"]}
            tagged = await store.read(lambda q: rows.links_for_case(q, numbers["tagged"]))
            assert tagged[0]["provenance"]["rule"] == "case_tag"
            assert len(await store.read(rows.review_items)) == 1
            findings = await ComplianceService(domain, AlertBus("ST-1", store), config.compliance,
                                               clock=lambda: START + timedelta(minutes=30)).run_once()
            # Due an hour after the fleet's start (window ended 23 h before): yellow now, red from then on.
            assert [(f.kind, f.colour.value) for f in findings] == [("compliance.officer_without_footage", "yellow")]
    finally:
        await store.close()
