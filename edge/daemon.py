"""Composition root: build the services from config, supervise them, shut down in order."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.bodycam.footage.service import FootageService
    from edge.bodycam.service import BodycamService
    from edge.cases.wiring import CaseParts
    from edge.housekeeping.service import StorageService
    from edge.kiosk.service import KioskService

from edge.alerts import AlertBus
from edge.config import Config
from edge.metrics import Metrics
from edge.mqtt import LinkSettings, Message, MqttLink, TopicRouter
from edge.station_parts import RouteAdder, StationParts
from edge.store import Store, StoreError, deadletter, devices
from edge.storewatch import StoreWatch
from edge.supervisor import RestartPolicy, Service, ServiceState, Supervisor
from edge.systemd import Notifier
from edge.web import core_routes
from edge.web.app import HttpService, WebContext, build_app
from edge.web.device_auth import DeviceAuthenticator

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
        self.device_auth = DeviceAuthenticator(config.http.device_auth, self._device_secret_hash, self.metrics,
                                               self.alerts)
        self.store_watch = StoreWatch(self.alerts)  # store failing -> alert (held in memory meanwhile)
        # Route adders beyond the built-in ones (domains register theirs in _build_services).
        self.extra_routes: list[RouteAdder] = []
        self._restarts_counted: dict[str, int] = {}
        self.bodycam: BodycamService | None = None
        self.footage: FootageService | None = None
        self.cases: CaseParts | None = None  # footage ingest calls self.cases.domain.footage_arrived
        self.kiosk: KioskService | None = None
        self.storage: StorageService | None = None

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
            await self.device_auth.aclose()
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

    def _station_parts(self, route_adders: list[RouteAdder]) -> StationParts:
        """The shared parts every domain's ``wiring.build`` gets (never the Daemon itself)."""
        return StationParts(self.config.station.id, self.store, self.alerts, self.metrics, self.router,
                            self._publish, route_adders.append)

    def _build_services(self, supervisor: Supervisor) -> list[Service]:
        """Order matters: services stop in reverse, so HTTP (intake) goes last here and stops first."""
        services: list[Service] = []
        ctx = WebContext(self.config, self.store, self.metrics, services=supervisor.states,
                         started_at=time.monotonic())
        ctx.device_verifier = self._verify_device
        route_adders: list[RouteAdder] = [core_routes.add_routes, *self.extra_routes]
        parts = self._station_parts(route_adders)
        from edge.custody.service import CheckpointService

        # First, so it stops last: its shutdown checkpoint then covers what the others wrote.
        services.append(CheckpointService(self.config.custody, parts.store, parts.station_id,
                                          self.config.station.data_dir))
        if self.config.services.bodycam:
            from edge.bodycam import wiring as bodycam_wiring
            from edge.bodycam.enrolment import Enrolment

            self.bodycam = bodycam_wiring.build(  # MQTT routes before the link starts
                parts, self.config.bodycam, Enrolment(self.config, self.store))
        if self.config.services.mqtt:
            self.link = MqttLink(link_settings(self.config), self.router, dead_letter=self._dead_letter,
                                 metrics=self.metrics, retry_on=(StoreError,))
            ctx.readiness["mqtt"] = lambda: self.link is not None and self.link.connected
            services.append(self.link)
        if self.bodycam is not None:
            services.append(self.bodycam)
        if self.config.services.bodycam and self.config.footage.enabled:
            from edge.bodycam.footage import wiring as footage_wiring

            self.footage = footage_wiring.build(parts, self.config.footage, self.config.station.data_dir)
            services.append(self.footage)
            if self.bodycam is not None:  # a file announced after its upload fulfils it (issue 10)
                self.footage.listen_to(self.bodycam.events)
        if self.config.services.cases:
            from edge.cases import wiring as cases_wiring

            self.cases = cases_wiring.build(parts, self.config.cases, **cases_wiring.seams(self.config, self.store))
            if self.footage is not None:
                cases_wiring.connect_footage(self.cases, self.footage)
            if self.bodycam is not None:
                cases_wiring.connect_bodycam(self.cases, self.bodycam, self.store)
            services.extend(self.cases.services)
        if self.config.services.kiosk:
            from edge.kiosk import wiring as kiosk_wiring

            self.kiosk = kiosk_wiring.build(parts, self.config.kiosk)
            services.append(self.kiosk)
        if self.config.retention.enabled:
            from edge.housekeeping.service import StorageService

            self.storage = StorageService(self.config.retention, self.store, self.metrics)
            services.append(self.storage)
        if self.config.services.http:
            self.http = HttpService(build_app(ctx, *route_adders), self.config.http.host, self.config.http.port)
            services.append(self.http)
        return services

    async def _publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        """The domains' way out to MQTT: through the link once it runs, nothing before or without it."""
        if self.link is not None:
            await self.link.publish(topic, payload, qos=qos, retain=retain)

    async def _publish_alert(self, topic: str, payload: bytes) -> None:
        if self.link is None:
            return
        await self.link.publish(topic, payload, qos=1)

    async def _verify_device(self, device_id: str, secret: str, address: str) -> bool:
        # Cached and rate-limited in front of PBKDF2 (~50 ms by design, on its own threads).
        return await self.device_auth.verify(device_id, secret, address)

    async def _device_secret_hash(self, device_id: str) -> str | None:
        return await self.store.read(lambda q: devices.active_secret_hash(q, device_id))

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
