"""Run a simulated body-camera fleet over MQTT in real time (or faster), one connection per camera.

``BodycamFleet`` (pure, deterministic) says what each camera publishes and when its link goes up or down;
this module makes it real: each camera is its own paho client logging in with its device id and secret,
registering its last will at CONNECT, and losing its link *uncleanly* (socket closed, no DISCONNECT) when
the model says so, so the broker fires the will. Commands the station sends (``bwc/{id}/cmd/#``) go back
into the model (a ``time_sync`` resets the camera's clock).

Why paho directly and not ``edge.mqtt.MqttLink``: the link is the *station's* connection (persistent
session, status topic of its own, ordered handler lanes); a camera needs the opposite - a throwaway
session, its own will, and the ability to die without saying goodbye. This is a separate program under
devices/, so the "paho only in edge/mqtt" rule for the daemon is unaffected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from devices.simulators.bodycam_fleet import BodycamFleet, FleetConfig, LinkChange, Outgoing

log = logging.getLogger(__name__)


@dataclass
class SimSettings:
    host: str
    port: int
    count: int
    seed: int = 1
    speed: float = 1.0  # simulated seconds per real second
    duration_s: float | None = None  # real seconds; None: until stopped
    credentials: dict[str, str] = field(default_factory=dict)  # device id -> secret (empty: anonymous)
    fleet: FleetConfig = field(default_factory=FleetConfig)
    tick_s: float = 0.1
    start: datetime | None = None


def load_credentials(path: Path) -> dict[str, str]:
    """A JSON object {device_id: secret} (``station-edge devices add --json`` output, collected)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ValueError(f"{path}: expected a JSON object of device id -> secret")
    return data


class _Camera:
    def __init__(self, device_id: str, settings: SimSettings, commands: queue.SimpleQueue[tuple[str, bytes]]) -> None:
        self.device_id = device_id
        self._settings = settings
        self._commands = commands
        self.client: paho.Client | None = None

    def up(self, will: Outgoing | None) -> None:
        self.down(clean=True)
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"sim-{self.device_id}",
                             protocol=MQTTProtocolVersion.MQTTv5)
        secret = self._settings.credentials.get(self.device_id)
        if secret is not None:
            client.username_pw_set(self.device_id, secret)
        if will is not None:
            client.will_set(will.topic, will.payload, will.qos, will.retain)
        client.on_connect = self._on_connect
        client.on_message = lambda c, u, m: self._commands.put((m.topic, bytes(m.payload)))
        client.connect_async(self._settings.host, self._settings.port, keepalive=30)
        client.loop_start()
        self.client = client

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.warning("%s refused by the broker: %s", self.device_id, reason)
            return
        client.subscribe(f"bwc/{self.device_id}/cmd/#", qos=1)

    def down(self, *, clean: bool) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        if clean:
            client.disconnect()
            client.loop_stop()
            return
        client.loop_stop()
        sock = client.socket()
        if sock is not None:  # no DISCONNECT: the broker sees the link die and publishes the will
            with contextlib.suppress(OSError):
                sock.close()

    def publish(self, out: Outgoing) -> None:
        if self.client is not None:
            self.client.publish(out.topic, out.payload, out.qos, out.retain)


class BodycamSimulator:
    def __init__(self, settings: SimSettings) -> None:
        self.settings = settings
        start = settings.start or datetime.now(UTC)
        self.fleet = BodycamFleet(settings.count, seed=settings.seed, start=start, config=settings.fleet)
        self._commands: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self.cameras = {c.device_id: _Camera(c.device_id, settings, self._commands) for c in self.fleet.cameras}
        self.published = 0
        self.commands_applied = 0

    def _apply(self, change: LinkChange) -> None:
        cam = self.cameras[change.device_id]
        if change.up:
            cam.up(change.will)
        else:
            cam.down(clean=change.clean)

    def step(self, dt: timedelta) -> None:
        """Advance the model and make its output real (also usable from tests with dt=0 after force_*)."""
        while True:
            try:
                topic, payload = self._commands.get_nowait()
            except queue.Empty:
                break
            self.commands_applied += self.fleet.handle_command(topic, payload)
        outs = self.fleet.step(dt)
        changes = self.fleet.take_link_changes()
        done = 0
        for change in changes:
            for out in outs[done:change.before]:
                self._publish(out)
            done = max(done, change.before)
            self._apply(change)
        for out in outs[done:]:
            self._publish(out)

    def _publish(self, out: Outgoing) -> None:
        device_id = out.topic.split("/", 2)[1]
        cam = self.cameras.get(device_id)
        if cam is not None:
            cam.publish(out)
            self.published += 1

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        s = self.settings
        began = last = time.monotonic()
        try:
            while not stop.is_set():
                if s.duration_s is not None and time.monotonic() - began >= s.duration_s:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), s.tick_s)
                now = time.monotonic()
                self.step(timedelta(seconds=(now - last) * s.speed))
                last = now
        finally:
            self.close()

    def close(self) -> None:
        for cam in self.cameras.values():
            cam.down(clean=True)
