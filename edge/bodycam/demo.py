"""The demo's body-camera part: a small simulated fleet, enrolled and provisioned into the demo broker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from edge.bodycam.enrolment import Enrolment
from edge.bodycam.provisioning import ProvisioningError
from edge.store import Queries, StoreError
from edge.store import enrolment as rows

if TYPE_CHECKING:
    from devices.simulators.bodycam_mqtt import BodycamSimulator
    from edge.demo import DemoContext

log = logging.getLogger(__name__)

FLEET_SIZE = 6
DEMO_SEED = 2024


@contextlib.asynccontextmanager
async def part(ctx: DemoContext) -> AsyncIterator[None]:
    from devices.simulators.bodycam_fleet import FleetConfig
    from devices.simulators.bodycam_mqtt import BodycamSimulator, SimSettings

    # Livelier than a real shift so something happens while someone watches: telemetry every few seconds,
    # a recording now and then, an occasional SOS.
    fleet = FleetConfig(station_id=ctx.config.station.id, telemetry_idle_s=5.0, telemetry_recording_s=2.0,
                        episode_every_s=120.0, episode_mean_s=60.0, sos_every_s=900.0, net_loss_every_s=600.0)
    port = ctx.broker.config.port
    sim = BodycamSimulator(SimSettings("127.0.0.1", port, FLEET_SIZE, seed=DEMO_SEED, fleet=fleet))
    try:
        await _enrol(ctx, sim)
    except (StoreError, ProvisioningError) as exc:  # Ctrl-C during start-up closes the store under us
        log.warning("demo cameras not started: %s", exc)
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(sim.run(stop), name="demo.bodycams")
    ctx.notes.append(f"  bodycams    {FLEET_SIZE} simulated cameras: {ctx.http_url}/api/v1/devices "
                     "(supervisor or technician token)")
    try:
        yield
    finally:
        stop.set()
        await task


async def _enrol(ctx: DemoContext, sim: BodycamSimulator) -> None:
    enrolment = Enrolment(ctx.config, ctx.daemon.store)
    store = ctx.daemon.store
    known = {d["device_id"] for d in await store.read(rows.devices)}
    officers = {o["officer_no"] for o in await store.read(rows.officers)}
    for cam in sim.fleet.cameras:
        if cam.device_id in known:  # secrets are shown once: a new demo run issues new ones
            await enrolment.remove_device(cam.device_id, actor="technician:demo")
        enrolled = await enrolment.add_device(cam.device_id, cam.serial, cam.model, actor="technician:demo")
        sim.settings.credentials[cam.device_id] = enrolled.secret
        o = cam.officer
        if o.number not in officers:
            await enrolment.add_officer(o.number, o.name, o.unit_no, o.unit_name)
            officers.add(o.number)

        def current(q: Queries, device_id: str = cam.device_id, at: datetime = cam.shift.start) -> Any:
            return rows.assignment_at(q, device_id, at)

        if not await store.read(current):
            await enrolment.assign(cam.device_id, o.number, cam.shift.start, cam.shift.end, actor="technician:demo")
    if ctx.daemon.bodycam is not None:
        await ctx.daemon.bodycam.reload_enrolment()
    await asyncio.sleep(0.2)  # the broker re-reads its password file on SIGHUP
