"""Start the simulated central platform: from tests, from ``station-edge sim central``, from the demo."""

from __future__ import annotations

import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from devices.simulators.bodycam_fleet import FleetConfig
from devices.simulators.central.app import CentralState, build_app
from devices.simulators.central.ingest import IngestSettings, IngestState, add_ingest_routes
from devices.simulators.central.listener import Listener
from devices.simulators.central.scenario import Scenario, build_scenario

if TYPE_CHECKING:
    from devices.demo.context import DemoContext


@dataclass
class CentralSimulator:
    url: str
    port: int
    state: CentralState
    scenario: Scenario
    ingest: IngestState | None = None  # the ingest side, when started with ``ingest=``
    listener: Listener | None = None

    def go_down(self, seconds: float) -> None:
        """The whole platform refuses connections for ``seconds`` (the "down for an hour" fault)."""
        assert self.listener is not None
        self.listener.down_for(seconds)

    async def come_up(self) -> None:
        assert self.listener is not None
        await self.listener.come_up()


@contextlib.asynccontextmanager
async def start_central(
    *, seed: int, start: datetime, host: str = "127.0.0.1", port: int = 0, cameras: int = 6,
    late_after_polls: int = 3, late_after_s: float | None = None, paused: bool = False,
    fleet: FleetConfig | None = None, ingest: IngestSettings | None = None, ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[CentralSimulator]:
    """Serve the case feed of the scenario for ``seed`` (and the ingest API with ``ingest``) until the
    context exits (port 0: a free one); over TLS with ``ssl_context`` (a server context)."""
    scenario = build_scenario(seed, start, cameras=cameras, config=fleet)
    state = CentralState.from_scenario(scenario, paused=paused, late_after_polls=late_after_polls,
                                       late_after_s=late_after_s)
    ingest_state = IngestState(ingest) if ingest is not None else None
    adders = [add_ingest_routes(ingest_state)] if ingest_state is not None else []
    runner = web.AppRunner(build_app(state, *adders), access_log=None)
    await runner.setup()
    listener = Listener(runner, host, port, ssl_context)
    await listener.start()
    if ingest_state is not None:
        ingest_state.go_down = listener.down_for
    try:
        scheme = "https" if ssl_context is not None else "http"
        yield CentralSimulator(f"{scheme}://{host}:{listener.port}", listener.port, state, scenario, ingest_state,
                               listener)
    finally:
        await listener.stop()
        await runner.cleanup()


CAMERA_CREDENTIALS = "mqtt-cameras.json"  # {"cam-0001": "secret", ...}: what `sim bodycams --credentials` reads
CAMERA_PASSWORDS = "mqtt-cameras"  # one <device>.password file each, for `mosquitto_pub -P "$(cat ...)"`


def _write_private(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    temporary.touch(mode=0o600)  # owner-only before the secret is in it
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def write_camera_credentials(directory: Path, credentials: dict[str, str]) -> Path:
    """The demo's MQTT cameras' secrets in its secrets folder (as the upload cameras' are), so a technician
    can publish as a demo camera; returns the per-camera password folder."""
    secrets_dir = directory / "secrets"
    folder = secrets_dir / CAMERA_PASSWORDS
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_private(secrets_dir / CAMERA_CREDENTIALS, json.dumps(credentials, indent=2) + "\n")
    for stale in folder.glob("*.password"):
        if stale.stem not in credentials:
            stale.unlink()
    for device, secret in credentials.items():
        _write_private(folder / f"{device}.password", secret + "\n")
    return folder


@contextlib.asynccontextmanager
async def demo_part(ctx: DemoContext, *, seed: int = 42) -> AsyncIterator[None]:
    """For devices/demo/station.py:demo_parts(): the central platform on the port the demo config's
    ``[cases.feed] url`` names, and the scripted camera fleet (devices/simulators/central/day.py) that plays
    the day for it."""
    from urllib.parse import urlsplit

    from devices.demo.context import in_background
    from devices.simulators.central.day import LEAD, SimulatedDay, quiet_fleet
    from edge.timeutil import utcnow

    port = urlsplit(ctx.config.cases.feed.url).port or 0
    start = utcnow().replace(microsecond=0) - LEAD
    work = ctx.directory / "sim-day"
    work.mkdir(exist_ok=True)
    async with start_central(seed=seed, start=start, port=port, paused=True, late_after_s=20.0,
                             fleet=quiet_fleet(ctx.config.station.id)) as central:
        day = SimulatedDay(ctx.broker.config.port, ctx.http_url, work, ctx.config.station.id, start, seed=seed)
        await day.enrol(ctx.daemon)
        credentials = write_camera_credentials(ctx.directory, day.sim.settings.credentials)
        central.state.resume()
        ctx.notes.append(f"  central     {central.url}/api/v1/cases  (simulated case feed, seed {seed}; the late "
                         "case arrives after ~20 s)")
        ctx.notes.append(f"  cases       {ctx.http_url}/api/v1/cases   review: {ctx.http_url}/api/v1/review   "
                         f"warnings: {ctx.http_url}/api/v1/compliance")
        ctx.notes.append(f"  bodycams    {len(day.scenario.roster)} scripted cameras replay the day's first "
                         f"{LEAD} in a few seconds, then upload: {ctx.http_url}/api/v1/devices")
        first = next(iter(day.sim.settings.credentials), "cam-0001")
        ctx.notes.append(f"              MQTT secrets: {credentials}/<device>.password, all in "
                         f"{ctx.directory / 'secrets' / CAMERA_CREDENTIALS}; publish as a camera (docs/simulators.md):")
        ctx.notes.append(f"              mosquitto_pub -h 127.0.0.1 -p {ctx.broker.config.port} -V mqttv5 -q 1 "
                         f"-u {first} -P \"$(cat {credentials}/{first}.password)\" -t bwc/{first}/telemetry -m ...")
        try:
            async with in_background(day.run(live=True), "demo.sim-day"):
                yield
        finally:
            day.close()
