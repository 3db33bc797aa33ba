"""Body-camera test helpers: a camera's MQTT client and contract payload builders."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge.bodycam.enrolment import Enrolment
from edge.broker import Broker
from edge.config import Config
from edge.daemon import Daemon

DAEMON_USER = "station-edge"
DAEMON_PASSWORD = "daemon-password-0123456789"


class Cam:
    """A camera's MQTT client (paho in its own thread, MQTT 5) that reports PUBACK reason codes."""

    def __init__(self, port: int, username: str | None, password: str | None, *, client_id: str = "") -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"cam-{uuid.uuid4().hex[:8]}",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.port = port
        self.connack: ReasonCode | None = None
        self.connected = threading.Event()
        self.acks: dict[int, ReasonCode] = {}
        self.acked = threading.Condition()
        self.received: list[tuple[str, bytes]] = []
        self.arrived: list[datetime] = []  # wall-clock arrival of each received message
        self.subscribed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self.subscribed.set()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: ReasonCode, props: Any) -> None:
        self.connack = reason
        self.connected.set()

    def _on_message(self, client: Any, userdata: Any, msg: paho.MQTTMessage) -> None:
        self.arrived.append(datetime.now(UTC))
        self.received.append((msg.topic, bytes(msg.payload)))

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: ReasonCode, props: Any) -> None:
        with self.acked:
            self.acks[mid] = reason
            self.acked.notify_all()

    def start(self, will: tuple[str, bytes] | None = None) -> ReasonCode:
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        assert self.connected.wait(30), "no CONNACK"  # a ceiling: a busy machine may be slow to answer
        assert self.connack is not None
        return self.connack

    def subscribe(self, topic: str) -> None:
        """Subscribe and wait for the SUBACK: what is published afterwards reaches this client."""
        self.subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self.subscribed.wait(30), "no SUBACK"

    def publish(self, topic: str, payload: bytes | dict[str, Any], *, qos: int = 1, retain: bool = False
                ) -> ReasonCode:
        data = json.dumps(payload).encode() if isinstance(payload, dict) else payload
        info = self.client.publish(topic, data, qos=qos, retain=retain)
        with self.acked:
            assert self.acked.wait_for(lambda: info.mid in self.acks, 30), "no PUBACK"
            return self.acks[info.mid]

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def drop(self) -> None:
        """Lose the connection uncleanly: the broker then publishes the will."""
        self.client.loop_stop()
        self.client.socket().close()  # type: ignore[union-attr]


@dataclass
class Station:
    daemon: Daemon
    broker: Broker
    config: Config
    enrolment: Enrolment
    cams: list[Cam] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.broker.config.port

    @property
    def http(self) -> str:
        assert self.daemon.http is not None
        return f"http://127.0.0.1:{self.daemon.http.bound_port}"

    async def enrol(self, device_id: str, serial: str) -> str:
        enrolled = await self.enrolment.add_device(device_id, serial, "DSJ-5G-V1", actor="technician:test")
        assert self.daemon.bodycam is not None
        await self.daemon.bodycam.reload_enrolment()
        # The broker re-reads its files on SIGHUP, in its own time: wait until it takes the new secret.
        async with asyncio.timeout(30):
            while not await asyncio.to_thread(self._accepts, device_id, enrolled.secret):
                await asyncio.sleep(0.05)
        return enrolled.secret

    def _accepts(self, device_id: str, secret: str) -> bool:
        probe = Cam(self.port, device_id, secret, client_id=f"probe-{uuid.uuid4().hex[:8]}")
        try:
            return probe.start().value == 0
        finally:
            probe.stop()

    def cam(self, username: str | None, password: str | None, **kw: Any) -> Cam:
        cam = Cam(self.port, username, password, **kw)
        self.cams.append(cam)
        return cam

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 30) -> Any:
        async with asyncio.timeout(timeout):
            while not (value := predicate()):
                await asyncio.sleep(0.01)
        return value


NOW = datetime.now(UTC)


def envelope(device_id: str, seq: int, *, ts: datetime | None = None, msg_id: str | None = None) -> dict[str, Any]:
    stamp = (ts or datetime.now(UTC)).isoformat()
    return {"v": 1, "device_id": device_id, "seq": seq, "msg_id": msg_id or f"m{seq}-{uuid.uuid4().hex[:8]}",
            "ts": stamp}


def telemetry(device_id: str, seq: int, *, battery: int = 80, storage: int = 30_000, lat: float = 22.54,
              ts: datetime | None = None, msg_id: str | None = None) -> dict[str, Any]:
    at = ts or datetime.now(UTC)
    return {**envelope(device_id, seq, ts=at, msg_id=msg_id),
            "gps": {"lat": lat, "lon": 114.05, "accuracy_m": 5.0, "fix_at": (at - timedelta(seconds=0.5)).isoformat()},
            "battery_pct": battery, "storage_free_mb": storage, "recording": False, "signal_dbm": -90}


def online(device_id: str, seq: int, session: int = 1, serial: str = "BW00001") -> dict[str, Any]:
    return {**envelope(device_id, seq), "state": "online", "session": session, "will": False, "serial": serial,
            "model": "DSJ-5G-V1", "fw": "1.4.2"}
