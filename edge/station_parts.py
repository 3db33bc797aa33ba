"""The shared station parts every domain is built from (``StationParts``), made once by the daemon.

Each domain has a ``wiring.build(parts, section, ...)`` that takes these and its own config section (plus
any domain-specific collaborator, named), registers its MQTT routes on ``parts.router`` and its HTTP routes
through ``parts.add_routes``, and returns what the daemon supervises. No domain sees the ``Daemon``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from edge.alerts import AlertBus
from edge.metrics import Metrics
from edge.mqtt import TopicRouter
from edge.store import Store

RouteAdder = Callable[[web.Application], None]
# (topic, payload, qos, retain): publishes through the station's MQTT link, a no-op while it does not run.
Publish = Callable[[str, bytes, int, bool], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class StationParts:
    station_id: str
    store: Store
    alerts: AlertBus
    metrics: Metrics
    router: TopicRouter  # MQTT routes are registered before the link starts
    publish: Publish
    add_routes: Callable[[RouteAdder], None]  # HTTP routes, added to the app when the HTTP service is built
