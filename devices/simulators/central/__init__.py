"""Simulated central platform: the case feed and the uplink's ingest side (batches, manifests, receipts, faults)."""

from devices.simulators.central.app import CentralState, build_app
from devices.simulators.central.ingest import IngestSettings, IngestState
from devices.simulators.central.run import CentralSimulator, demo_part, start_central
from devices.simulators.central.scenario import Incident, Scenario, ScriptStep, build_scenario

__all__ = [
    "CentralSimulator",
    "CentralState",
    "Incident",
    "IngestSettings",
    "IngestState",
    "Scenario",
    "ScriptStep",
    "build_app",
    "build_scenario",
    "demo_part",
    "start_central",
]
