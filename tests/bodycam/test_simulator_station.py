"""The fleet simulator against a provisioned station: devices come online, wills fire, time_sync applies."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from support.bodycam import Station

from devices.simulators.bodycam_fleet import FleetConfig
from devices.simulators.bodycam_mqtt import BodycamSimulator, SimSettings


# Drift must persist before time_sync is sent (60 s by default); a second is enough here.
@pytest.mark.parametrize("station", [{"clock_drift_persist_s": 1.0, "clock_drift_min_samples": 2}], indirect=True)
async def test_simulated_fleet_reports_and_its_will_fires(station: Station) -> None:
    probe = BodycamSimulator(SimSettings("127.0.0.1", station.port, 3, seed=5))
    credentials = {c.device_id: await station.enrol(c.device_id, c.serial) for c in probe.fleet.cameras}
    probe.close()
    sim = BodycamSimulator(SimSettings("127.0.0.1", station.port, 3, seed=5, credentials=credentials,
                                       fleet=FleetConfig(telemetry_idle_s=1.0, telemetry_recording_s=1.0)))
    bodycam = station.daemon.bodycam
    assert bodycam is not None
    stop = asyncio.Event()
    run = asyncio.create_task(sim.run(stop))
    try:
        devices = bodycam.registry.devices
        await station.wait_for(lambda: all(d.online and d.telemetry for d in devices.values()), timeout=30)
        sim.fleet.force_offline("cam-0002")
        await station.wait_for(lambda: not devices["cam-0002"].online, timeout=30)
        assert devices["cam-0002"].offline_reason == "last will"
        sim.fleet.force_clock_jump("cam-0001", timedelta(seconds=40))
        await station.wait_for(lambda: sim.commands_applied >= 1, timeout=30)
    finally:
        stop.set()
        await run
    assert sim.published > 6
