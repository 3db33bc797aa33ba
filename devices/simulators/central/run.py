"""Start the simulated central platform: from tests, from ``station-edge sim central``, from the demo."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web

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
    late_after_polls: int = 3, late_after_s: float | None = None,
) -> AsyncIterator[CentralSimulator]:
    """Serve the case feed of the scenario for ``seed`` until the context exits (port 0: a free one)."""
    scenario = build_scenario(seed, start, cameras=cameras)
    state = CentralState.from_scenario(scenario, late_after_polls=late_after_polls, late_after_s=late_after_s)
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
async def demo_part(ctx: DemoContext, *, seed: int = 42, start: datetime | None = None) -> AsyncIterator[None]:
    """For edge/demo.py:demo_parts() (wired by the integrator once issues 3 and 4 land).

    The daemon's ``[cases.feed] url`` must point at the simulator: the demo config writer needs to know the
    port first, so pass a fixed one (or restart the feed) when wiring this in.
    """
    from edge.timeutil import utcnow

    async with start_central(seed=seed, start=start or utcnow(), late_after_s=60.0) as central:
        ctx.notes.append(f"  central     {central.url}/api/v1/cases  (simulated case feed, seed {seed})")
        ctx.notes.append(f"  cases       {ctx.http_url}/api/v1/cases   review: {ctx.http_url}/api/v1/review")
        yield
