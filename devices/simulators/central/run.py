"""Start the simulated central platform: from tests, from ``station-edge sim central``, from the demo."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web

from devices.simulators.bodycam_fleet import FleetConfig
from devices.simulators.central.app import CentralState, build_app
from devices.simulators.central.scenario import Scenario, build_scenario

if TYPE_CHECKING:
    from edge.demo import DemoContext


@dataclass
class CentralSimulator:
    url: str
    port: int
    state: CentralState
    scenario: Scenario


@contextlib.asynccontextmanager
async def start_central(
    *, seed: int, start: datetime, host: str = "127.0.0.1", port: int = 0, cameras: int = 6,
    late_after_polls: int = 3, late_after_s: float | None = None, paused: bool = False,
    fleet: FleetConfig | None = None,
) -> AsyncIterator[CentralSimulator]:
    """Serve the case feed of the scenario for ``seed`` until the context exits (port 0: a free one)."""
    scenario = build_scenario(seed, start, cameras=cameras, config=fleet)
    state = CentralState.from_scenario(scenario, paused=paused, late_after_polls=late_after_polls,
                                       late_after_s=late_after_s)
    runner = web.AppRunner(build_app(state), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    try:
        yield CentralSimulator(f"http://{host}:{bound}", bound, state, scenario)
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def demo_part(ctx: DemoContext, *, seed: int = 42) -> AsyncIterator[None]:
    """For edge/demo.py:demo_parts(): the central platform on the port the demo config's ``[cases.feed] url``
    names, and the scripted camera fleet (devices/simulators/central/day.py) that plays the day for it."""
    from urllib.parse import urlsplit

    from devices.simulators.central.day import LEAD, SimulatedDay, quiet_fleet
    from edge.demo import in_background
    from edge.timeutil import utcnow

    port = urlsplit(ctx.config.cases.feed.url).port or 0
    start = utcnow().replace(microsecond=0) - LEAD
    work = ctx.directory / "sim-day"
    work.mkdir(exist_ok=True)
    async with start_central(seed=seed, start=start, port=port, paused=True, late_after_s=20.0,
                             fleet=quiet_fleet(ctx.config.station.id)) as central:
        day = SimulatedDay(ctx.broker.config.port, ctx.http_url, work, ctx.config.station.id, start, seed=seed)
        await day.enrol(ctx.daemon)
        central.state.resume()
        ctx.notes.append(f"  central     {central.url}/api/v1/cases  (simulated case feed, seed {seed}; the late "
                         "case arrives after ~20 s)")
        ctx.notes.append(f"  cases       {ctx.http_url}/api/v1/cases   review: {ctx.http_url}/api/v1/review   "
                         f"warnings: {ctx.http_url}/api/v1/compliance")
        ctx.notes.append(f"  bodycams    {len(day.scenario.roster)} scripted cameras replay the day's first "
                         f"{LEAD} in a few seconds, then upload: {ctx.http_url}/api/v1/devices")
        try:
            async with in_background(day.run(live=True), "demo.sim-day"):
                yield
        finally:
            day.close()
