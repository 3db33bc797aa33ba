"""Composition root: build the services from config, supervise them, shut down in order."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from edge.bodycam.footage.service import FootageService
    from edge.bodycam.service import BodycamService
    from edge.cases.wiring import CaseParts
    from edge.kiosk.service import KioskService

from edge.alerts import AlertBus
from edge.config import Config
from edge.credentials import verify_secret
from edge.metrics import Metrics
from edge.mqtt import LinkSettings, Message, MqttLink, TopicRouter
from edge.store import Store, StoreError, deadletter, devices
from edge.storewatch import StoreWatch
from edge.supervisor import RestartPolicy, Service, ServiceState, Supervisor
from edge.systemd import Notifier
from edge.web import core_routes
from edge.web.app import HttpService, WebContext, build_app

log = logging.getLogger(__name__)


def link_settings(config: Config) -> LinkSettings:
    m = config.mqtt
    return LinkSettings(
        host=m.host, port=m.port, client_id=config.mqtt_client_id, username=m.username, password=m.password,
        tls=m.tls, ca_file=str(m.ca_file) if m.ca_file else None, keepalive_s=m.keepalive_s,
        session_expiry_s=m.session_expiry_s, max_inflight=m.max_inflight, receive_maximum=m.receive_maximum,
        reconnect_min_s=m.reconnect_min_s, reconnect_max_s=m.reconnect_max_s,
        status_topic=f"edge/{config.station.id}/status",
        retry_attempts=m.retry_attempts, retry_window_s=m.retry_window_s,
    )


class Daemon:
    """One station-edge process. ``run()`` returns the process exit code."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.metrics = Metrics()
        self.store = Store(config.database_path, on_commit=self.metrics.observe_commit,
                           on_health=lambda error: self.store_watch.notify(error))
        self.router = TopicRouter()
        self.link: MqttLink | None = None
        self.http: HttpService | None = None
        self.supervisor: Supervisor | None = None
        self.ready = asyncio.Event()
        self.alerts = AlertBus(config.station.id, self.store, self._publish_alert)
        self.store_watch = StoreWatch(self.alerts)  # store failing -> alert (held in memory meanwhile)
        # Route adders beyond the built-in ones (domains register theirs in _build_services).
        self.extra_routes: list[Callable[[web.Application], None]] = []
        self._restarts_counted: dict[str, int] = {}
        self.bodycam: BodycamService | None = None
        self.footage: FootageService | None = None
        self.cases: CaseParts | None = None  # footage ingest calls self.cases.domain.footage_arrived
        self.kiosk: KioskService | None = None

    async def run(self, stop: asyncio.Event | None = None) -> int:
        loop = asyncio.get_running_loop()
        own_signals = stop is None
        stop = stop or asyncio.Event()
        if own_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._request_stop, stop, sig)
        notifier = Notifier.from_environ(dict(os.environ))
        self.store_watch.attach(loop)
        await self.store.open()
        log.info("station %s: database %s at schema %d", self.config.station.id,
                 self.config.database_path, self.store.schema_version)
        failed = False
        try:
            supervisor = self.supervisor = Supervisor(self._policy(), on_state=self._on_service_state)
            services = self._build_services(supervisor)
            async with asyncio.TaskGroup() as group:
                run = group.create_task(
                    supervisor.run(services, stop, drain_timeout_s=self.config.supervisor.shutdown_timeout_s),
                    name="daemon.supervisor",
                )
                group.create_task(self._announce_ready(notifier, supervisor, run), name="daemon.ready")
                if notifier.watchdog_interval_s:
                    group.create_task(self._watchdog(notifier, run), name="daemon.watchdog")
        except* Exception as group_error:  # noqa: BLE001 - top level: log and exit non-zero
            for exc in group_error.exceptions:
                log.critical("daemon stopping on error: %s", exc)
            failed = True
        finally:
            notifier.stopping()
            await self.alerts.drain()
            await self.store.close()
            if own_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
        if failed:
            return 1
        log.info("station-edge stopped cleanly")
        return 0

    def _request_stop(self, stop: asyncio.Event, sig: signal.Signals) -> None:
        if not stop.is_set():
            log.info("received %s: stopping intake, draining", sig.name)
        stop.set()

    def _policy(self) -> RestartPolicy:
        s = self.config.supervisor
        return RestartPolicy(s.max_restarts, s.restart_window_s, s.backoff_min_s, s.backoff_max_s, s.stable_after_s)

    def _on_service_state(self, name: str, state: ServiceState) -> None:
        self.metrics.service_up.labels(name).set(1 if state.running else 0)
        counted = self._restarts_counted.get(name, 0)
        if state.restarts > counted:
            self.metrics.service_restarts.labels(name).inc(state.restarts - counted)
            self._restarts_counted[name] = state.restarts

    def _build_services(self, supervisor: Supervisor) -> list[Service]:
        """Order matters: services stop in reverse, so HTTP (intake) goes last here and stops first."""
        services: list[Service] = []
        ctx = WebContext(self.config, self.store, self.metrics, services=supervisor.states,
                         started_at=time.monotonic())
        ctx.device_verifier = self._verify_device
        route_adders: list[Callable[[web.Application], None]] = [core_routes.add_routes, *self.extra_routes]
        if self.config.services.bodycam:
            from edge.bodycam import wiring as bodycam_wiring

            self.bodycam = bodycam_wiring.build(self, route_adders)  # MQTT routes before the link starts
        if self.config.services.mqtt:
            self.link = MqttLink(link_settings(self.config), self.router, dead_letter=self._dead_letter,
                                 metrics=self.metrics, retry_on=(StoreError,))
            ctx.readiness["mqtt"] = lambda: self.link is not None and self.link.connected
            services.append(self.link)
        if self.bodycam is not None:
            services.append(self.bodycam)
        if self.config.services.bodycam and self.config.footage.enabled:
            from edge.bodycam.footage.layout import Layout
            from edge.bodycam.footage.service import FootageService

            self.footage = FootageService(self.config.footage, Layout(self.config.footage.root(
                self.config.station.data_dir)), self.store, self.alerts, self.metrics)
            route_adders.append(self.footage.add_routes)
            services.append(self.footage)
        if self.config.services.cases:
            from edge.cases import wiring as cases_wiring

            self.cases = cases_wiring.build(self.config.cases, self.store, self.alerts, self.config.station.id,
                                            **cases_wiring.seams(self.config, self.store))
            if self.footage is not None:
                cases_wiring.connect_footage(self.cases, self.footage)
            if self.bodycam is not None:
                cases_wiring.connect_bodycam(self.cases, self.bodycam, self.store)
            services.extend(self.cases.services)
            route_adders.append(self.cases.add_routes)
        if self.config.services.kiosk:
            from edge.kiosk import wiring as kiosk_wiring

            self.kiosk = kiosk_wiring.build(self, route_adders)
            services.append(self.kiosk)
        if self.config.services.http:
            self.http = HttpService(build_app(ctx, *route_adders), self.config.http.host, self.config.http.port)
            services.append(self.http)
        return services

    async def _publish_alert(self, topic: str, payload: bytes) -> None:
        if self.link is None:
            return
        await self.link.publish(topic, payload, qos=1)

    async def _verify_device(self, device_id: str, secret: str) -> bool:
        stored = await self.store.read(lambda q: devices.active_secret_hash(q, device_id))
        if stored is None:
            return False
        # PBKDF2 takes ~50 ms by design: keep it off the event loop.
        return await asyncio.to_thread(verify_secret, stored, secret)

    async def _dead_letter(self, message: Message, reason: str, detail: str) -> None:
        await self.store.write(lambda tx: deadletter.record(
            tx, source="mqtt", channel=message.topic, reason=reason, detail=detail, payload=message.payload,
            at=message.received_at,
        ))

    async def _announce_ready(self, notifier: Notifier, supervisor: Supervisor, run: asyncio.Task[None]) -> None:
        """READY=1 once every service has entered (the broker may still be connecting: /readyz says)."""
        while not run.done():
            if supervisor.states and all(s.running for s in supervisor.states.values()):
                _freeze_startup_heap()
                self.ready.set()
                notifier.ready(f"station {self.config.station.id} running")
                log.info("station-edge %s ready", self.config.station.id)
                return
            await asyncio.sleep(0.02)

    async def _watchdog(self, notifier: Notifier, run: asyncio.Task[None]) -> None:
        interval = notifier.watchdog_interval_s or 1.0
        while not run.done():
            # Only a loop that still turns pets the dog; a blocked loop lets systemd restart us.
            notifier.watchdog()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(run), interval)


def _freeze_startup_heap() -> None:
    """Move everything alive after start-up (modules, config, routes, the loaded registry) out of the
    cyclic collector's reach: it lives as long as the process, and rescanning it on every collection
    cost about a tenth of the event loop's time under camera telemetry load (bench/telemetry.py)."""
    gc.collect()
    gc.freeze()
