"""The simulated day, end to end: the central scenario's script driven through a real camera fleet over
MQTT, with real (small) PyAV segments uploaded over tus, so that the station's links, review item and
warnings come out of the same paths as in the field. Used by the demo and tests/e2e.

The station runs on the wall clock, so the day is placed in the past: it began ``lead`` ago, and
``replay`` runs its first ``lead`` quickly (``fast_s`` real seconds). Messages replayed that fast reach
the station late on its clock; the clock-offset estimator ignores such delayed samples once fresh ones
arrive, so ``settle`` sends telemetry at real speed before the uploads, when ingest reads each camera's
measured offset, until the station's stored offset of every camera matches the camera's true clock (a
condition, not a fixed time: on a busy machine the station drains the replayed backlog later, and its
device snapshots are written at most every few seconds). The cameras obey the ``time_sync`` the station
sends meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devices.simulators.bodycam_fleet import FleetConfig, Outgoing
from devices.simulators.bodycam_mqtt import BodycamSimulator, SimSettings
from devices.simulators.central.scenario import Scenario, build_scenario

if TYPE_CHECKING:
    from edge.daemon import Daemon

log = logging.getLogger(__name__)

LEAD = timedelta(hours=3, minutes=50)  # the script's last step is at 3 h 40 min
SEGMENT_S = 1.0  # real content per file: small, the announcement carries the recorded range
OFFSET_TOLERANCE_S = 2.0  # matching works in minutes; delay only ever makes a clock look behind
SETTLE_CEILING_S = 120.0  # a ceiling for a loaded machine; alone the station settles in a few seconds


def quiet_fleet(station_id: str, footage: Any = None) -> FleetConfig:
    """Only the script happens: no random recordings, SOS, network loss, clock jumps, marks or tags."""
    never = 1e12
    return FleetConfig(station_id=station_id, telemetry_idle_s=120.0, telemetry_recording_s=10.0,
                       episode_every_s=never, sos_every_s=never, net_loss_every_s=never,
                       clock_jump_every_s=never, mark_probability=0.0, case_tag_probability=0.0, footage=footage)


@dataclass
class Recording:
    device_id: str
    name: str
    start: str  # device clock, as announced
    path: Path
    announced: bool = True


class _ScriptedSimulator(BodycamSimulator):
    """Publishes what the fleet says, except the file announcements the scenario loses on purpose."""

    def __init__(self, settings: SimSettings, day: SimulatedDay) -> None:
        super().__init__(settings)
        self._day = day

    def _publish(self, out: Outgoing) -> None:
        if out.topic.endswith("/file") and not self._day.on_file(out):
            return
        super()._publish(out)


@dataclass
class SimulatedDay:
    mqtt_port: int
    http_url: str
    work: Path
    station_id: str
    start: datetime
    seed: int = 42
    fast_s: float = 4.0
    lead: timedelta = LEAD
    recordings: list[Recording] = field(default_factory=list)
    uploaded: dict[str, int] = field(default_factory=dict)  # file name -> footage id
    daemon: Daemon | None = None  # set by ``enrol``: settle reads what the station measured

    def __post_init__(self) -> None:
        self.fleet_config = quiet_fleet(self.station_id, self._segment)
        self.scenario: Scenario = build_scenario(self.seed, self.start, config=self.fleet_config)
        self.sim = _ScriptedSimulator(SimSettings("127.0.0.1", self.mqtt_port, len(self.scenario.roster),
                                                  seed=self.seed, fleet=self.fleet_config, start=self.start), self)
        self._paths: dict[str, Path] = {}

    def _segment(self, device_id: str, name: str, seconds: float) -> tuple[int, str]:
        from devices.simulators.media import make_segment
        from devices.simulators.uploader import file_sha256

        path = self.work / name
        make_segment(path, seconds=SEGMENT_S, seed=zlib.crc32(f"{self.seed}/{name}".encode()))
        self._paths[name] = path
        return path.stat().st_size, file_sha256(path)

    def on_file(self, out: Outgoing) -> bool:
        """Remember an announced file; False for the one the scenario loses (its content is never sent)."""
        body = json.loads(out.payload)
        device_id, name = body["device_id"], body["name"]
        index = int(name.rsplit("_", 1)[1].split(".")[0])
        announced = (device_id, index) not in self.scenario.dropped
        self.recordings.append(Recording(device_id, name, body["start"], self._paths[name], announced))
        return announced

    async def enrol(self, daemon: Daemon) -> None:
        """Cameras (fresh secrets), officers and shifts of the scenario's roster."""
        from edge.bodycam.enrolment import Enrolment
        from edge.store import enrolment as rows

        self.daemon = daemon
        enrolment = Enrolment(daemon.config, daemon.store)
        known = {d["device_id"] for d in await daemon.store.read(rows.devices)}
        officers = {o["officer_no"] for o in await daemon.store.read(rows.officers)}
        for cam in self.scenario.roster:
            if cam.device_id in known:  # a secret is shown once: a new run issues a new one
                await enrolment.remove_device(cam.device_id, actor="technician:sim-day")
            enrolled = await enrolment.add_device(cam.device_id, cam.serial, cam.model, actor="technician:sim-day")
            self.sim.settings.credentials[cam.device_id] = enrolled.secret
            o = cam.officer
            if o.number not in officers:
                await enrolment.add_officer(o.number, o.name, o.unit_no, o.unit_name)
                officers.add(o.number)
            shift = cam.shift
            held = await daemon.store.read(functools.partial(rows.assignment_at, device_id=cam.device_id,
                                                             at=shift.start))
            if held is None:
                await enrolment.assign(cam.device_id, o.number, shift.start, shift.end, actor="technician:sim-day")
        if daemon.bodycam is not None:
            await daemon.bodycam.reload_enrolment()
        await asyncio.sleep(0.2)  # a broker that manages accounts re-reads its password file on SIGHUP

    async def replay(self) -> None:
        """Run the day from its start until it catches up with the wall clock, in about ``fast_s`` real
        seconds, applying the script on time. Afterwards simulated time is wall-clock time."""
        from edge.timeutil import utcnow

        steps = sorted(self.scenario.script, key=lambda s: s.at)
        chunk = 30.0  # simulated seconds per step: fine enough for 10 s telemetry while recording
        pause = self.fast_s * chunk / self.lead.total_seconds()
        t = 0.0
        while (behind := (utcnow() - self.sim.fleet.now).total_seconds()) > 0.5:
            nxt = t + min(chunk, behind)
            while steps and steps[0].at.total_seconds() <= nxt:
                step = steps.pop(0)
                self.sim.step(timedelta(seconds=step.at.total_seconds() - t))
                t = step.at.total_seconds()
                step.apply(self.sim.fleet)
            self.sim.step(timedelta(seconds=nxt - t))
            t = nxt
            await asyncio.sleep(pause)

    async def settle(self, seconds: float = 2.5, every: float = 0.25, ceiling_s: float = SETTLE_CEILING_S) -> bool:
        """Real-time telemetry from every camera, so the station measures true clock offsets again: at least
        ``seconds``, then until the offsets the station stored match the cameras' clocks (with a daemon from
        ``enrol``), within ``ceiling_s``. False if the station had not caught up by then."""
        from edge.timeutil import utcnow

        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            for cam in self.scenario.roster:
                self.sim.fleet.camera(cam.device_id).act("telemetry")
            self.sim.step(max(timedelta(0), utcnow() - self.sim.fleet.now))
            await asyncio.sleep(every)
            elapsed = loop.time() - start
            if elapsed >= seconds and (self.daemon is None or await self._offsets_measured()):
                return True
            if elapsed >= ceiling_s:
                log.warning("the station has not measured the cameras' clock offsets within %.0f s", ceiling_s)
                return False

    async def _offsets_measured(self) -> bool:
        """Every camera's offset as stored by the station (what ingest reads) matches its true clock."""
        from edge.store.footage import device_clock_offset_ms

        assert self.daemon is not None
        t = (self.sim.fleet.now - self.start).total_seconds()
        for cam in self.scenario.roster:
            stored = await self.daemon.store.read(functools.partial(device_clock_offset_ms, device_id=cam.device_id))
            true_s = self.sim.fleet.camera(cam.device_id).clock.offset(t)
            if stored is None or abs(stored / 1000 - true_s) > OFFSET_TOLERANCE_S:
                return False
        return True

    async def upload(self) -> dict[str, int]:
        """Upload every recording the cameras announced (the lost one never reaches the station)."""
        from devices.simulators.uploader import TusUploader

        for rec in self.recordings:
            if not rec.announced or rec.name in self.uploaded:
                continue
            secret = self.sim.settings.credentials[rec.device_id]
            async with TusUploader(self.http_url, rec.device_id, secret) as client:
                result = await client.upload(rec.path, name=rec.name, recorded_at=rec.start)
            if result.footage_id is None:
                raise RuntimeError(f"upload of {rec.name} failed: {result.status} {result.problem}")
            self.uploaded[rec.name] = result.footage_id
        return self.uploaded

    async def run(self, *, live: bool = False) -> None:
        """The whole day after enrolment: replay, settle, upload; ``live``: then keep the cameras reporting
        in real time until cancelled."""
        from edge.timeutil import utcnow

        await self.replay()
        await self.settle()
        await self.upload()
        while live:
            self.sim.step(max(timedelta(0), utcnow() - self.sim.fleet.now))
            await asyncio.sleep(1.0)

    def close(self) -> None:
        self.sim.close()
