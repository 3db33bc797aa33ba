"""Deterministic body-camera fleet model for the simulator (pure: the MQTT wrapper lives elsewhere).

fleet = BodycamFleet(20, seed=7, start=datetime(2024, 6, 1, 0, tzinfo=UTC))
for link in fleet.take_link_changes(): ...   # connect with link.will / disconnect
for out in fleet.step(timedelta(seconds=1)): publish(out.topic, out.payload, out.qos, out.retain)
"""

from devices.simulators.bodycam_fleet.camera import SimCamera
from devices.simulators.bodycam_fleet.config import FleetConfig, LinkChange
from devices.simulators.bodycam_fleet.faults import FaultMode, apply_fault
from devices.simulators.bodycam_fleet.fleet import BodycamFleet
from devices.simulators.bodycam_fleet.roster import CameraIdentity, Officer, Shift, build_roster
from edge.bodycam.payloads import Outgoing

__all__ = [
    "BodycamFleet",
    "CameraIdentity",
    "FaultMode",
    "FleetConfig",
    "LinkChange",
    "Officer",
    "Outgoing",
    "Shift",
    "SimCamera",
    "apply_fault",
    "build_roster",
]
