"""Simulated central platform: the case feed (and, later, the uplink's receivers)."""

from devices.simulators.central.app import CentralState, build_app
from devices.simulators.central.run import CentralSimulator, demo_part, start_central
from devices.simulators.central.scenario import Incident, Scenario, ScriptStep, build_scenario

__all__ = [
    "CentralSimulator",
    "CentralState",
    "Incident",
    "Scenario",
    "ScriptStep",
    "build_app",
    "build_scenario",
    "demo_part",
    "start_central",
]
