"""How the body-camera domain plugs into the station (kept here so daemon.py only calls ``build``)."""

from __future__ import annotations

from edge.bodycam.config import BodycamConfig
from edge.bodycam.enrolment import Enrolment
from edge.bodycam.routes import BodycamApi, route_adder
from edge.bodycam.service import BodycamService
from edge.station_parts import StationParts


def build(parts: StationParts, section: BodycamConfig, enrolment: Enrolment) -> BodycamService:
    """Create the service, register its MQTT routes (before the link starts) and its HTTP routes."""
    service = BodycamService(section, parts.store, parts.alerts, parts.metrics, parts.publish)
    service.register(parts.router)
    parts.add_routes(route_adder(BodycamApi(service, enrolment)))
    return service
