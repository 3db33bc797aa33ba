"""How the body-camera domain plugs into the daemon (kept here so daemon.py only calls ``build``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from edge.bodycam.enrolment import Enrolment
from edge.bodycam.routes import BodycamApi, route_adder
from edge.bodycam.service import BodycamService

if TYPE_CHECKING:
    from edge.daemon import Daemon


def build(daemon: Daemon, route_adders: list[Callable[[web.Application], None]]) -> BodycamService:
    """Create the service, register its MQTT routes (before the link starts) and its HTTP routes."""

    async def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if daemon.link is not None:
            await daemon.link.publish(topic, payload, qos=qos, retain=retain)

    service = BodycamService(daemon.config.bodycam, daemon.store, daemon.alerts, daemon.metrics, publish)
    service.register(daemon.router)
    route_adders.append(route_adder(BodycamApi(service, Enrolment(daemon.config, daemon.store))))
    return service
