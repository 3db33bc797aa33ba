"""MQTT link: the only module that imports paho.

paho-mqtt 2.x (CallbackAPIVersion.VERSION2, MQTT 5) driven from the asyncio loop with add_reader /
add_writer, as aiomqtt 2.x does, without a second thread. We use paho directly rather than aiomqtt
because per-message cost matters here: the facts measured aiomqtt at about half of bare paho's rate,
and the telemetry path must keep up with hundreds of cameras on two cores.

Delivery is at-least-once end to end: QoS 1 messages are acknowledged (manual ack) only after their
handler finished (or its deferred work, such as a telemetry batch commit) or they were dead-lettered,
the session persists across reconnects (clean_start off, session expiry set). The acks leave in the
order the messages arrived (``edge.mqtt.acks``, MQTT 5 §4.6). Delivery to handlers (ordered lanes,
duplicate memory, dead letters, bounded retries) is in ``edge.mqtt.dispatch``; this module is the paho
adapter, and reconnects when the dispatcher gives up on a message so that the broker redelivers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge.backoff import jittered_backoff
from edge.metrics import Metrics
from edge.mqtt.acks import AckQueue, AckSlot
from edge.mqtt.dispatch import Dispatcher
from edge.mqtt.routing import DeadLetterSink, Message, TopicRouter
from edge.mqtt.settings import LinkSettings, PublishError
from edge.supervisor import Service
from edge.timeutil import utcnow

log = logging.getLogger(__name__)

_CONNACK_TIMEOUT_S = 10.0
# Packets read per readiness callback at most: a burst is read in one event-loop turn, not one turn
# per packet. QoS 1 bursts are bounded by Receive Maximum anyway; the cap bounds a QoS 0 flood.
_READ_BURST = 1000


@dataclass
class _Connection:
    generation: int = 0
    socket_fd: int | None = None
    connack: asyncio.Future[ReasonCode] | None = None
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    acks: AckQueue | None = None  # this connection's PUBACKs, in arrival order


def _no_ack() -> None:
    """QoS 0: nothing to acknowledge."""


class MqttLink(Service):
    name = "mqtt"

    def __init__(
        self,
        settings: LinkSettings,
        router: TopicRouter,
        *,
        dead_letter: DeadLetterSink | None = None,
        metrics: Metrics | None = None,
        rng: random.Random | None = None,
        retry_on: tuple[type[BaseException], ...] = (),
    ) -> None:
        self.settings = settings
        self.router = router
        self._dead_letter = dead_letter
        self._metrics = metrics
        self._retry_on = retry_on  # handler errors retried rather than dead-lettered (store outages)
        self._forced = None if metrics is None else metrics.counter(
            "station_edge_mqtt_forced_redeliveries",
            "Reconnects made so that the broker redelivers messages we could neither handle nor dead-letter")
        self._rng = rng or random.Random()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._client: paho.Client | None = None
        self._conn = _Connection()
        self._connected = asyncio.Event()
        self._inflight = asyncio.Semaphore(settings.max_inflight)
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._subacks: dict[int, asyncio.Future[None]] = {}
        self._dispatcher: Dispatcher | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.connections = 0
        self._packets_in = 0  # packets paho reported through a callback: how _read_ready sees progress
        self._read_again = False  # a _read_ready is already scheduled for the next turn

    # -- public API ------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def ready(self) -> bool:
        return self.connected

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def publish(self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False) -> None:
        """Publish; for QoS 1 return once the broker acknowledged it (PUBACK), raise if it refused.

        At most ``max_inflight`` QoS 1 messages are outstanding; further callers wait here, which
        keeps paho far from the 65,535 message-id wrap at which it loses messages.
        """
        client = self._require_client()
        data = payload.encode() if isinstance(payload, str) else payload
        if qos == 0:
            client.publish(topic, data, 0, retain)
            self._count_out()
            return
        async with self._inflight:
            assert self._loop is not None
            future: asyncio.Future[None] = self._loop.create_future()
            info = client.publish(topic, data, qos, retain)
            if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
                raise PublishError(f"publish to {topic} failed: {paho.error_string(info.rc)}")
            self._pending[info.mid] = future
            self._write_now()  # an alert must not wait for the next loop turn's writer callback
            await future
        self._count_out()

    # -- service lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> MqttLink:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._client = self._make_client()
        self._dispatcher = Dispatcher(self.router, lanes=self.settings.lanes, dead_letter=self._dead_letter,
                                      metrics=self._metrics, retry_attempts=self.settings.retry_attempts,
                                      retry_window_s=self.settings.retry_window_s, retry_on=self._retry_on,
                                      on_give_up=self._force_redelivery, rng=self._rng)
        self._dispatcher.start()
        self._tasks = [asyncio.create_task(self._misc_loop(), name="mqtt.keepalive")]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._connected.clear()
        self._set_connected_metric(False)
        client = self._client
        if client is not None and client.is_connected():
            if self.settings.status_topic:
                # A clean DISCONNECT suppresses the will, so say "offline" ourselves.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        self.publish(self.settings.status_topic, self.settings.offline_payload, retain=True), 1.0
                    )
            client.disconnect()
            with contextlib.suppress(Exception):
                client.loop_write()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._dispatcher is not None:
            await self._dispatcher.stop()
        self._unwatch_socket()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(PublishError("link closed before the broker acknowledged"))
        self._pending.clear()
        self._client = None

    async def serve(self) -> None:
        attempt = 0
        reported = False
        while True:
            try:
                await self._connect_once()
            except (OSError, TimeoutError, ConnectionRefusedError, PublishError) as exc:
                attempt += 1
                delay = self._backoff(attempt)
                if not reported:
                    log.warning("cannot connect to MQTT broker %s:%d: %s; retrying in %.1f s",
                                self.settings.host, self.settings.port, exc, delay)
                    reported = True
                await asyncio.sleep(delay)
                continue
            if reported or self.connections > 1:
                log.info("MQTT link connected to %s:%d", self.settings.host, self.settings.port)
            reported = False
            up_since = time.monotonic()
            await self._conn.lost.wait()
            self._connected.clear()
            self._set_connected_metric(False)
            log.warning("MQTT link to %s:%d lost; reconnecting", self.settings.host, self.settings.port)
            reported = True
            attempt = 0 if time.monotonic() - up_since > 30 else attempt + 1
            await asyncio.sleep(self._backoff(max(attempt, 1)))

    # -- connection -----------------------------------------------------------------------------

    def _make_client(self) -> paho.Client:
        s = self.settings
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=s.client_id, protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=True,
        )
        client.max_inflight_messages_set(s.max_inflight)
        client.max_queued_messages_set(0)
        if s.username:
            client.username_pw_set(s.username, s.password or None)
        if s.tls:
            client.tls_set(ca_certs=s.ca_file, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if s.status_topic:
            client.will_set(s.status_topic, s.offline_payload, qos=1, retain=True)
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        return client

    async def _connect_once(self) -> None:
        client = self._require_client()
        assert self._loop is not None
        s = self.settings
        self._conn = _Connection(generation=self._conn.generation + 1, connack=self._loop.create_future(),
                                 acks=AckQueue(partial(self._send_ack, client)))
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = s.session_expiry_s
        props.ReceiveMaximum = s.receive_maximum
        # The TCP connect and DNS may block: keep them off the loop.
        connect = partial(client.connect, s.host, s.port, s.keepalive_s, clean_start=False, properties=props)
        try:
            await self._loop.run_in_executor(None, connect)
            assert self._conn.connack is not None
            code = await asyncio.wait_for(self._conn.connack, _CONNACK_TIMEOUT_S)
            if code.is_failure:
                raise ConnectionRefusedError(f"broker refused the connection: {code}")
            await self._subscribe_all(client)
        except BaseException:
            self._drop_socket(client)
            raise
        self.connections += 1
        if self.connections > 1 and self._metrics is not None:
            self._metrics.mqtt_reconnects.inc()
        if s.status_topic:
            client.publish(s.status_topic, s.online_payload, 1, True)
        self._connected.set()
        self._set_connected_metric(True)

    def _force_redelivery(self) -> None:
        """The dispatcher gave up on messages it could not handle: reconnect, the broker redelivers them.

        A normal DISCONNECT keeps the session (its expiry was set at CONNECT) and suppresses our will:
        we are back within the reconnect backoff, so supervisors need not see us offline.
        """
        if self._forced is not None:
            self._forced.inc()
        client = self._client
        if client is None or self._conn.socket_fd is None:
            return
        log.warning("MQTT link: reconnecting so that the broker redelivers unacknowledged messages")
        self._conn.lost.set()
        with contextlib.suppress(Exception):
            client.disconnect()
            client.loop_write()  # the DISCONNECT itself, before we stop watching the socket
        self._unwatch_socket()

    def _drop_socket(self, client: paho.Client) -> None:
        with contextlib.suppress(Exception):
            client.disconnect()
        self._unwatch_socket()

    async def _subscribe_all(self, client: paho.Client) -> None:
        """Subscribe every route and wait for the SUBACK: only then is the link ready to receive."""
        if not self.router.routes:
            return
        assert self._loop is not None
        # retainHandling=1: retained messages only for new subscriptions, so a reconnect with a
        # resumed session does not replay old retained state as if it were news.
        topics = [(r.pattern, SubscribeOptions(qos=r.qos, retainHandling=1)) for r in self.router.routes]
        suback: asyncio.Future[None] = self._loop.create_future()
        rc, mid = client.subscribe(topics)
        if rc != paho.MQTT_ERR_SUCCESS or mid is None:
            raise ConnectionError(f"subscribe failed: {paho.error_string(rc)}")
        self._subacks[mid] = suback
        try:
            await asyncio.wait_for(suback, _CONNACK_TIMEOUT_S)
        finally:
            self._subacks.pop(mid, None)

    def _backoff(self, attempt: int) -> float:
        s = self.settings
        return jittered_backoff(attempt, min_s=s.reconnect_min_s, max_s=s.reconnect_max_s, rng=self._rng)

    # -- paho callbacks (socket registration may come from the connect executor thread) ----------

    def _in_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        assert self._loop is not None
        if self._loop.is_closed():
            return  # paho closing a socket when the client is garbage-collected after its loop ended
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        fd = sock.fileno()
        self._in_loop(self._watch_socket, fd)

    def _watch_socket(self, fd: int) -> None:
        assert self._loop is not None
        self._conn.socket_fd = fd
        self._loop.add_reader(fd, self._read_ready)

    def _on_socket_close(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._unwatch_socket)

    def _unwatch_socket(self) -> None:
        fd, self._conn.socket_fd = self._conn.socket_fd, None
        if fd is not None and self._loop is not None:
            self._loop.remove_reader(fd)
            self._loop.remove_writer(fd)

    def _on_register_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._add_writer)

    def _add_writer(self) -> None:
        if self._conn.socket_fd is not None and self._loop is not None:
            self._loop.add_writer(self._conn.socket_fd, self._write_ready)

    def _on_unregister_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._remove_writer)

    def _remove_writer(self) -> None:
        if self._conn.socket_fd is not None and self._loop is not None:
            self._loop.remove_writer(self._conn.socket_fd)

    def _read_ready(self) -> None:
        # loop_read reads one packet per call and says SUCCESS both for a packet and for "no data
        # yet", so progress is seen through the callbacks' counter. After a full burst we come back on
        # the next turn, once the lanes have run and their acks are written (the broker sends no more
        # than Receive Maximum unacknowledged messages, so acks must flow for it to keep streaming);
        # that also drains what TLS already decrypted into its buffer, which epoll cannot see.
        client = self._client
        if client is None:
            return
        for _ in range(_READ_BURST):
            before = self._packets_in
            rc = client.loop_read()
            if rc == paho.MQTT_ERR_NO_CONN:  # closed meanwhile; on_disconnect said so already
                return
            if rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_AGAIN):
                self._conn.lost.set()
                return
            if self._packets_in == before:
                return
        if not self._read_again:
            self._read_again = True
            assert self._loop is not None
            self._loop.call_soon(self._read_on)

    def _read_on(self) -> None:
        self._read_again = False
        self._read_ready()

    def _write_now(self) -> None:
        if self._conn.socket_fd is not None:
            self._write_ready()

    def _write_ready(self) -> None:
        if self._client is not None:
            rc = self._client.loop_write()
            if rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_AGAIN):
                self._conn.lost.set()

    async def _misc_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if self._client is not None and self._conn.socket_fd is not None:
                self._client.loop_misc()

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode,
                    properties: Any) -> None:
        self._packets_in += 1
        connack = self._conn.connack
        if connack is not None and not connack.done():
            connack.set_result(reason)

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode,
                       properties: Any) -> None:
        self._conn.lost.set()
        connack = self._conn.connack
        if connack is not None and not connack.done():
            connack.set_exception(ConnectionRefusedError(f"disconnected before CONNACK: {reason}"))

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int, codes: list[ReasonCode],
                      properties: Any) -> None:
        self._packets_in += 1
        refused = [(r.pattern, str(c)) for r, c in zip(self.router.routes, codes, strict=False) if c.is_failure]
        if refused:
            log.error("broker refused subscriptions: %s", refused)
        future = self._subacks.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(None)

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, reason: ReasonCode,
                    properties: Any) -> None:
        self._packets_in += 1
        future = self._pending.pop(mid, None)
        if future is None or future.done():
            return
        if reason.is_failure:
            future.set_exception(PublishError(f"broker refused the publish: {reason}"))
        else:
            future.set_result(None)

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        self._packets_in += 1
        assert self._dispatcher is not None
        message = Message(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain), utcnow(), bool(msg.dup))
        conn = self._conn
        if msg.qos == 0 or conn.acks is None:
            self._dispatcher.submit(message, _no_ack)
            return
        self._dispatcher.submit(message, partial(self._ack, conn, conn.acks.expect(msg.mid, msg.qos)))

    def _ack(self, conn: _Connection, slot: AckSlot) -> None:
        # An ack belongs to the connection that delivered the message; after a reconnect the broker
        # redelivers instead, and the dispatcher's duplicate memory absorbs it.
        if conn is self._conn and conn.acks is not None:
            conn.acks.done(slot)

    def _send_ack(self, client: paho.Client, slot: AckSlot) -> None:
        client.ack(slot.mid, slot.qos)

    # -- helpers ---------------------------------------------------------------------------------

    def _require_client(self) -> paho.Client:
        if self._client is None:
            raise PublishError("MQTT link is not running")
        return self._client

    def _count_out(self) -> None:
        if self._metrics is not None:
            self._metrics.mqtt_messages_out.inc()

    def _set_connected_metric(self, connected: bool) -> None:
        if self._metrics is not None:
            self._metrics.mqtt_connected.set(1 if connected else 0)
