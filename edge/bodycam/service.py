"""The body-camera service: MQTT handlers (validate, sequence, registry, store), periodic checks.

Data flows one way: broker -> ``handle`` -> decode -> enrolment and sequence checks -> registry (memory)
-> batched telemetry rows / durable event rows -> alerts. Telemetry returns without awaiting the store,
handing the link the future of its batch's commit: the message is acknowledged once that committed.
Status, events and file announcements are committed before the handler returns, so the link acknowledges
them only once stored (at-least-once; redeliveries are no-ops by their unique (device, msg_id)). A write
that fails for the store's sake raises StoreError, which the link retries (the message's seq is
remembered only once it is stored, so the retry is not taken for a duplicate).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from edge.alerts import AlertBus, Severity
from edge.bodycam.batcher import MAX_BUFFERED, BacklogFullError, StateRows, TelemetryBatcher
from edge.bodycam.config import BodycamConfig
from edge.bodycam.events import EventWriter
from edge.bodycam.payloads import (
    CameraMessage,
    Channel,
    PayloadRejected,
    StatusPayload,
    TelemetryPayload,
    TimeSync,
    camera_subscriptions,
    decode,
    encode_command,
)
from edge.bodycam.registry import Action, ClearAlert, DeviceState, RaiseAlert, Registry, SendTimeSync
from edge.bodycam.sequence import SequenceBook, Verdict
from edge.metrics import Metrics
from edge.mqtt import Deferred, HandlerRejected, Message, TopicRouter
from edge.store import Queries, Store
from edge.store import enrolment as enrolment_rows
from edge.store import telemetry as telemetry_rows
from edge.store.telemetry import epoch_us
from edge.supervisor import Service
from edge.timeutil import utcnow

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, int, bool], Awaitable[None]]
UNKNOWN_DEVICE = "unknown_device"
DUPLICATE = "duplicate"
_NEGATIVE_CACHE_S = 5.0  # an unknown device is looked up again (CLI enrolment) at most this often


class BodycamService(Service):
    name = "bodycam"

    def __init__(self, config: BodycamConfig, store: Store, alerts: AlertBus, metrics: Metrics,
                 publish: Publish | None) -> None:
        self.config = config
        self._store = store
        self._alerts = alerts
        self._publish = publish
        self.registry = Registry(config)
        self._seq = SequenceBook()
        self._dirty: set[str] = set()
        self._unknown: dict[str, float] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        self._cmd_seq = 0
        self.time_syncs_sent = 0
        # The link starts first and may hand us retained statuses before the registry is loaded.
        self._ready = asyncio.Event()
        self.batcher = TelemetryBatcher(store, metrics, max_rows=config.telemetry_batch_rows,
                                        max_delay=config.telemetry_batch_s, sync_s=config.telemetry_sync_s,
                                        dirty_states=self._take_dirty)
        self.events = EventWriter(store, alerts, config)
        self._messages = metrics.counter("station_edge_bodycam_messages", "Accepted camera messages",
                                         ["channel", "verdict"])
        self._message_counts: dict[tuple[Channel, Verdict], Any] = {}  # .labels() children, looked up once
        self._online = metrics.gauge("station_edge_bodycam_devices_online", "Cameras online now")
        self._time_syncs = metrics.counter("station_edge_bodycam_time_syncs", "time_sync commands sent")

    def register(self, router: TopicRouter) -> None:
        for pattern, qos in camera_subscriptions():
            router.add(pattern, self.handle, qos=qos, name=f"bodycam.{pattern.rsplit('/', 1)[1]}")

    # -- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> BodycamService:
        await self.reload_enrolment()
        saved = await self._store.read(telemetry_rows.load_states)
        self._seq = SequenceBook(high_waters={d: s["high_water"] for d, s in saved.items()
                                              if s["high_water"] is not None})
        active = await self._store.read(telemetry_rows.active_device_alerts)
        for dev in self.registry.devices.values():
            state = saved.get(dev.device_id)
            if state is not None:
                dev.online = state["online"]
                snap = state["state"]
                dev.restored_telemetry, dev.sos = snap.get("telemetry"), bool(snap.get("sos"))
                dev.offline_reason = snap.get("offline_reason")
                dev.docked, dev.recording = snap.get("docked"), snap.get("recording")
                if snap.get("last_seen"):
                    dev.last_seen = datetime.fromisoformat(snap["last_seen"])
            dev.raised.update({k: Severity(v) for k, v in active.get(dev.device_id, {}).items()})
        self._tasks = [
            asyncio.create_task(self.batcher.run(), name="bodycam.telemetry.flush"),
            asyncio.create_task(self._checks(), name="bodycam.checks"),
        ]
        self._ready.set()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._dirty.update(self.registry.devices)
        await self.batcher.flush(final=True)  # telemetry buffered so far and every device's latest state
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def serve(self) -> None:
        await asyncio.gather(*self._tasks)

    async def reload_enrolment(self) -> None:
        """(Re)load enrolled devices and today's assignments (also after API enrolment changes)."""
        now = utcnow()

        def read(q: Queries) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
            return [(d, enrolment_rows.assignment_at(q, d["device_id"], now)) for d in enrolment_rows.devices(q)]

        enrolled = await self._store.read(read)
        known = {d["device_id"] for d, _ in enrolled}
        for gone in set(self.registry.devices) - known:
            del self.registry.devices[gone]
            self._seq.forget(gone)
        for device, shift in enrolled:
            dev = self.registry.devices.get(device["device_id"])
            if dev is None:
                dev = self.registry.devices[device["device_id"]] = DeviceState(
                    device["device_id"], device["serial"], device["model"])
                self._unknown.pop(dev.device_id, None)
            dev.officer_no = None if shift is None else shift["officer_no"]
            dev.officer_name = None if shift is None else shift["officer_name"]

    # -- the handler -----------------------------------------------------------------------------

    async def handle(self, message: Message) -> Deferred | None:
        if not self._ready.is_set():
            await self._ready.wait()
        try:
            msg = decode(message.topic, message.payload, message.received_at, max_skew=self.config.max_payload_skew)
        except PayloadRejected as exc:
            raise HandlerRejected(exc.reason.value, exc.detail) from None
        dev = self.registry.devices.get(msg.device_id) or await self._lookup(msg.device_id)
        if dev is None:
            raise HandlerRejected(UNKNOWN_DEVICE, f"{msg.device_id} is not enrolled (or was removed)")
        telemetry = isinstance(msg.payload, TelemetryPayload)
        # Telemetry is remembered at once (its row is buffered now); the rest once its write committed.
        verdict = self._seq.classify(dev.device_id, msg.seq, msg.msg_id, record=telemetry)
        if verdict is Verdict.DUPLICATE:
            raise HandlerRejected(DUPLICATE, f"seq {msg.seq} / msg_id {msg.msg_id} already handled")
        counter = self._message_counts.get((msg.channel, verdict))
        if counter is None:
            counter = self._message_counts[msg.channel, verdict] = self._messages.labels(msg.channel.value,
                                                                                         verdict.value)
        counter.inc()
        newest = verdict is Verdict.NEW
        payload = msg.payload
        self.registry.seen(dev, payload.ts, msg.received_at, newest=newest)
        actions = self.registry.mark_alive(dev)
        will = isinstance(payload, StatusPayload) and payload.will
        if not will:  # a will's ts is from connect time: not a clock observation
            actions += self.registry.observe_clock(dev, payload.ts, msg.received_at)
        committed: Deferred | None = None
        if isinstance(payload, TelemetryPayload):
            if self.batcher.full:
                self.batcher.refuse()  # a StoreError: the link retries it, then has the broker redeliver it
                raise BacklogFullError(f"{MAX_BUFFERED} telemetry rows wait for a commit")
            if newest:
                actions += self.registry.apply_telemetry(dev, payload, msg.received_at)
            committed = self.batcher.add(_telemetry_row(msg, payload, dev, verdict), msg.received_at.timestamp())
        elif isinstance(payload, StatusPayload):
            if not await self.events.status(msg, verdict):
                raise HandlerRejected(DUPLICATE, f"msg_id {msg.msg_id} was stored before")
            actions += self.registry.apply_status(dev, payload, msg.received_at)
        elif msg.channel is Channel.FILE:
            if not await self.events.file(msg, verdict, dev):
                raise HandlerRejected(DUPLICATE, f"file of msg_id {msg.msg_id} was stored before")
        elif not await self.events.event(msg, verdict, dev):
            raise HandlerRejected(DUPLICATE, f"msg_id {msg.msg_id} was stored before")
        if not telemetry:
            self._seq.record(dev.device_id, msg.seq, msg.msg_id, verdict)
        self._dirty.add(dev.device_id)
        if actions:
            await self._carry_out(actions)
        return committed

    async def _lookup(self, device_id: str) -> DeviceState | None:
        """A device enrolled by the CLI in another process is not in memory yet: look it up (rate-limited)."""
        now = time.monotonic()
        if now - self._unknown.get(device_id, -_NEGATIVE_CACHE_S) < _NEGATIVE_CACHE_S:
            return None
        self._unknown[device_id] = now
        await self.reload_enrolment()
        return self.registry.devices.get(device_id)

    async def _carry_out(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, RaiseAlert):
                await self._alerts.raise_alert(action.alert)
            elif isinstance(action, ClearAlert):
                await self._alerts.clear_alert(action.key, action.reason)
            elif isinstance(action, SendTimeSync):
                task = asyncio.create_task(self._time_sync(action), name=f"bodycam.time_sync[{action.device_id}]")
                self._background.add(task)
                task.add_done_callback(self._background.discard)

    async def _time_sync(self, action: SendTimeSync) -> None:
        if self._publish is None:
            return
        self._cmd_seq += 1
        now = utcnow()
        cmd = TimeSync(v=1, device_id=action.device_id, seq=self._cmd_seq, msg_id=f"ts-{now:%Y%m%d%H%M%S%f}",
                       ts=now, expires_at=now + timedelta(minutes=1), cmd="time_sync",
                       measured_offset_ms=action.offset_ms)
        out = encode_command(cmd)
        try:
            await self._publish(out.topic, out.payload, out.qos, out.retain)
        except Exception as exc:  # noqa: BLE001 - the next drifted message asks again
            log.warning("time_sync to %s not sent: %s", action.device_id, exc)
            return
        self._time_syncs.inc()
        self.time_syncs_sent += 1
        log.info("time_sync sent to %s (offset %+d ms)", action.device_id, action.offset_ms)

    # -- periodic work ---------------------------------------------------------------------------

    async def _checks(self) -> None:
        tick = min(self.config.check_interval_s, self.config.heartbeat_timeout_s / 4)
        last_full = 0.0
        while True:
            await asyncio.sleep(tick)
            now = utcnow()
            actions = self.registry.check_heartbeats(now)
            if actions:
                self._dirty.update(a.alert.subject.removeprefix("device:") for a in actions
                                   if isinstance(a, RaiseAlert))
                await self._carry_out(actions)
            self._online.set(sum(1 for d in self.registry.devices.values() if d.online))
            if time.monotonic() - last_full >= self.config.check_interval_s:
                last_full = time.monotonic()
                await self.reload_enrolment()
                await self.events.alert_overdue(now)

    def _take_dirty(self) -> StateRows:
        dirty, self._dirty = self._dirty, set()
        high = self._seq.high_waters()
        return [(d, high.get(d), dev.online, dev.snapshot())
                for d in dirty if (dev := self.registry.devices.get(d)) is not None]

    def device(self, device_id: str) -> DeviceState | None:
        return self.registry.devices.get(device_id)


def _telemetry_row(msg: CameraMessage, t: TelemetryPayload, dev: DeviceState, verdict: Verdict) -> tuple[Any, ...]:
    gps = t.gps
    if gps is None:
        lat = lon = accuracy = fix_at = None
    else:
        lat, lon, accuracy, fix_at = gps.lat, gps.lon, gps.accuracy_m, epoch_us(gps.fix_at)
    return (
        dev.device_id, t.seq, t.msg_id, epoch_us(t.ts), epoch_us(msg.received_at), lat, lon, accuracy, fix_at,
        t.battery_pct, t.storage_free_mb, int(t.recording), t.signal_dbm, dev.clock_offset_ms(), verdict.value,
    )
