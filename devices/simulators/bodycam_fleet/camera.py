"""One simulated body camera: an agenda of timed happenings turned into contract payloads.

Simulated time is seconds since the fleet's start; nothing here reads a clock. Every payload is built
with the contract's models and encoders, so only the explicit fault modes can leave the contract.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from devices.simulators.bodycam_fleet.config import FleetConfig, LinkChange
from devices.simulators.bodycam_fleet.faults import FaultMode, apply_fault
from devices.simulators.bodycam_fleet.motion import DeviceClock, Walker
from devices.simulators.bodycam_fleet.roster import CameraIdentity
from edge.bodycam.payloads import (
    AnyCommand,
    CameraPayload,
    CaseTag,
    Channel,
    Docked,
    FilePayload,
    GpsFix,
    MarkImportant,
    Outgoing,
    RecordStart,
    RecordStop,
    Sos,
    SosClear,
    StatusPayload,
    TelemetryPayload,
    TimeSync,
    Undocked,
    camera_topic,
    encode_camera,
)

BITRATE_BPS = 500_000  # bytes/s: 4 Mbit/s, 1080p body-camera video
_IDLE_DRAIN, _REC_DRAIN = 6.0, 7.0  # battery %/h idle and extra while recording
_ORDER = (  # tie-break for happenings due at the same instant
    "boot", "shift_end", "battery_empty", "net_down", "net_up", "clock_jump", "rec_stop", "file_split",
    "sos", "sos_clear", "rec_start", "mark", "case_tag", "telemetry",
)  # fmt: skip
_PRIORITY = {k: i for i, k in enumerate(_ORDER)}


@dataclass
class _Segment:
    start_t: float
    start_dev: datetime
    marked: bool = False


@dataclass
class _State:
    powered: bool = False
    connected: bool = False
    net_ok: bool = True
    recording: bool = False
    sos: bool = False
    seq: int = 0
    session: int = 0
    battery: float = 100.0
    battery_t: float = 0.0
    storage_mb: float = 32_000.0
    segment: _Segment | None = None
    file_index: int = 0
    last_file: str | None = None
    buffer: list[Outgoing] = field(default_factory=list)


class SimCamera:
    def __init__(self, ident: CameraIdentity, cfg: FleetConfig, start: datetime, seed: str, peer: str) -> None:
        self.ident = ident
        self._cfg = cfg
        self._start = start
        self._rng = random.Random(seed)
        self._peer = peer  # another device id, for the topic_mismatch fault
        self._walker = Walker(random.Random(f"{seed}/walk"), cfg.lat, cfg.lon)
        self.clock = DeviceClock(self._rng.uniform(-2.0, 2.0), self._rng.uniform(-40.0, 40.0))
        low = self._rng.random() < 0.05  # a few cameras leave the dock half charged
        self.s = _State(
            battery=self._rng.uniform(25, 35) if low else self._rng.uniform(70, 100),
            storage_mb=self._rng.uniform(6_000, 50_000),
        )
        self.now = 0.0
        self._agenda: dict[str, float] = {
            "boot": max(0.0, (ident.shift.start - start).total_seconds()),
            "shift_end": (ident.shift.end - start).total_seconds(),
        }
        self._out: list[tuple[float, Outgoing | LinkChange]] = []

    def advance(self, until: float) -> list[tuple[float, Outgoing | LinkChange]]:
        """Run every happening due up to ``until``; returns what happened, in time order."""
        while True:
            due = [(t, _PRIORITY[k], k) for k, t in self._agenda.items() if t <= until]
            if not due:
                break
            t, _, key = min(due)
            del self._agenda[key]
            self.now = max(self.now, t)
            getattr(self, f"_on_{key}")()
        self.now = max(self.now, until)
        out, self._out = self._out, []
        return out

    def _after(self, key: str, mean_s: float) -> None:
        self._agenda[key] = self.now + self._rng.expovariate(1.0 / mean_s)

    def device_time(self, t: float | None = None) -> datetime:
        t = self.now if t is None else t
        ms = round((t + self.clock.offset(t)) * 1000)  # cameras stamp milliseconds
        return self._start + timedelta(milliseconds=ms)

    def _envelope(self) -> dict[str, Any]:
        self.s.seq += 1
        return {
            "v": 1,
            "device_id": self.ident.device_id,
            "seq": self.s.seq,
            "msg_id": f"{self._rng.getrandbits(64):016x}",
            "ts": self.device_time(),
        }

    def _battery(self) -> float:
        rate = _IDLE_DRAIN + (_REC_DRAIN if self.s.recording else 0.0)
        return max(0.0, self.s.battery - rate * (self.now - self.s.battery_t) / 3600.0)

    def _settle_battery(self) -> None:
        self.s.battery, self.s.battery_t = self._battery(), self.now
        if self.s.powered:
            rate = _IDLE_DRAIN + (_REC_DRAIN if self.s.recording else 0.0)
            self._agenda["battery_empty"] = self.now + self.s.battery / rate * 3600.0

    def _fix(self) -> GpsFix | None:
        if self._rng.random() < 0.03:  # indoors, under a bridge
            return None
        lat, lon = self._walker.position(self.now)
        acc = self._rng.uniform(5, 20) if self._walker.in_vehicle else self._rng.uniform(3, 12)
        noise = self._rng.gauss(0, acc / 3) / 111_320.0
        fix_at = self.device_time() - timedelta(milliseconds=self._rng.randint(0, 900))
        return GpsFix(
            lat=round(lat + noise, 7), lon=round(lon + noise / math.cos(math.radians(lat)), 7),
            accuracy_m=round(acc, 1), fix_at=fix_at,
        )  # fmt: skip

    def _emit(self, payload: CameraPayload) -> None:
        outs = [encode_camera(payload)]
        faulty = self._cfg.fault_rate > 0 and not isinstance(payload, StatusPayload)
        if faulty and self._rng.random() < self._cfg.fault_rate:
            mode = self._rng.choice(self._cfg.fault_modes)
            outs = apply_fault(mode, outs[0], other_device=self._peer)
        for out in outs:
            self._push(out)

    def _push(self, out: Outgoing) -> None:
        if self.s.connected:
            self._out.append((self.now, out))
            return
        buf = self.s.buffer
        if len(buf) >= self._cfg.buffer_limit:
            telemetry = camera_topic(self.ident.device_id, Channel.TELEMETRY)
            oldest = next((i for i, o in enumerate(buf) if o.topic == telemetry), None)
            if oldest is not None:
                del buf[oldest]  # events and files are never dropped
        buf.append(out)

    def _status(self, state: str, *, will: bool = False) -> StatusPayload:
        online = state == "online"
        return StatusPayload.model_validate(
            {
                **self._envelope(), "state": state, "session": self.s.session, "will": will,
                "serial": self.ident.serial if online else None,
                "model": self.ident.model if online else None, "fw": self.ident.fw if online else None,
            }
        )  # fmt: skip

    def _link_up(self) -> None:
        self.s.session += 1
        will = encode_camera(self._status("offline", will=True))  # seq reserved now, sent by the broker
        self.s.connected = True
        self._out.append((self.now, LinkChange(self.ident.device_id, up=True, will=will)))
        buffered, self.s.buffer = self.s.buffer, []
        self._out.extend((self.now, o) for o in buffered)  # oldest first, as queued
        self._emit(self._status("online"))

    def _link_down(self, *, clean: bool) -> None:
        if self.s.connected:
            self.s.connected = False
            self._out.append((self.now, LinkChange(self.ident.device_id, up=False, clean=clean)))

    def _on_boot(self) -> None:
        self.s.powered, self.s.battery_t = True, self.now
        self._link_up()
        self._emit(Undocked(**self._envelope(), event="undocked", dock_id="dock-1"))
        self._agenda["telemetry"] = self.now + self._rng.uniform(0.5, 3.0)
        cfg = self._cfg
        self._after("rec_start", cfg.episode_every_s)
        self._after("sos", cfg.sos_every_s)
        self._after("net_down", cfg.net_loss_every_s)
        self._after("clock_jump", cfg.clock_jump_every_s)
        self._settle_battery()

    def _power_off(self) -> None:
        self._settle_battery()
        self.s.powered = False
        self._agenda = {}

    def _on_shift_end(self) -> None:
        if not self.s.powered:
            return
        if not self.s.net_ok:  # the dock's wired network brings it back
            self.s.net_ok = True
            self._link_up()
        if self.s.sos:
            self._on_sos_clear()
        if self.s.recording:
            self._stop_recording()
        self._emit(Docked(**self._envelope(), event="docked", dock_id="dock-1"))
        self._emit(self._status("offline"))
        self._link_down(clean=True)
        self._power_off()

    def _on_battery_empty(self) -> None:
        if self.s.recording:
            self._stop_recording()  # firmware closes the file at the last percent
        self._link_down(clean=False)  # power cut: the broker sends the will
        self._power_off()
        self.s.battery = 0.0

    def _on_net_down(self) -> None:
        self.s.net_ok = False
        self._link_down(clean=False)
        self._agenda["net_up"] = self.now + self._rng.uniform(10.0, self._cfg.net_loss_max_s)

    def _on_net_up(self) -> None:
        self.s.net_ok = True
        self._link_up()
        self._after("net_down", self._cfg.net_loss_every_s)

    def _on_clock_jump(self) -> None:
        self.clock.jump(self.now, self._rng.choice((-1, 1)) * self._rng.uniform(3.0, 90.0))
        self._after("clock_jump", self._cfg.clock_jump_every_s)

    def _start_recording(self, pre_event_s: int, min_duration_s: float = 30.0) -> None:
        if self.s.recording:
            return
        self._settle_battery()
        self.s.recording = True
        self._emit(RecordStart(**self._envelope(), event="record_start", pre_event_s=pre_event_s))
        self.s.segment = _Segment(self.now - pre_event_s, self.device_time(self.now - pre_event_s))
        cfg = self._cfg
        duration = min(max(min_duration_s, self._rng.expovariate(1.0 / cfg.episode_mean_s)), 4 * 3600.0)
        self._agenda["rec_stop"] = self.now + duration
        self._agenda["file_split"] = self.now + cfg.file_split_s
        if self._rng.random() < cfg.mark_probability:
            self._agenda["mark"] = self.now + self._rng.uniform(0, duration)
        self._agenda["telemetry"] = min(self._agenda.get("telemetry", math.inf), self.now + cfg.telemetry_recording_s)
        self._settle_battery()

    def _close_segment(self) -> None:
        seg = self.s.segment
        if seg is None:
            return
        self.s.segment = None
        self.s.file_index += 1
        stamp = seg.start_dev.strftime("%Y%m%d%H%M%S")
        name = f"{self.ident.serial}_{self.ident.officer.number}_{stamp}_{self.s.file_index:04d}.mp4"
        size = int((self.now - seg.start_t) * BITRATE_BPS * self._rng.uniform(0.9, 1.1))
        self.s.storage_mb = max(0.0, self.s.storage_mb - size / 1e6)
        self.s.last_file = name
        # The footage itself is not simulated here; the hash is a stable stand-in tied to the file.
        digest = hashlib.sha256(f"{self.ident.device_id}/{name}/{size}".encode()).hexdigest()
        if self._cfg.footage is not None:
            size, digest = self._cfg.footage(self.ident.device_id, name, self.now - seg.start_t)
        self._emit(
            FilePayload(
                **self._envelope(), name=name, start=seg.start_dev, end=self.device_time(),
                size_bytes=size, sha256=digest, marked=seg.marked, officer_no=self.ident.officer.number,
            )
        )  # fmt: skip

    def _stop_recording(self) -> None:
        self._emit(RecordStop(**self._envelope(), event="record_stop"))
        self._close_segment()
        self._settle_battery()
        self.s.recording = False
        for key in ("rec_stop", "file_split", "mark"):
            self._agenda.pop(key, None)
        self._settle_battery()

    def _on_rec_start(self) -> None:
        self._start_recording(self._cfg.pre_event_s)

    def _on_rec_stop(self) -> None:
        self._stop_recording()
        self._after("rec_start", self._cfg.episode_every_s)
        if self._rng.random() < self._cfg.case_tag_probability:
            self._agenda["case_tag"] = self.now + self._rng.uniform(30, 300)

    def _on_file_split(self) -> None:
        self._close_segment()
        self.s.segment = _Segment(self.now, self.device_time())
        self._agenda["file_split"] = self.now + self._cfg.file_split_s

    def _on_mark(self) -> None:
        # Marks the recording in progress, or else the last closed file (named, since it was announced).
        target = None if self.s.segment is not None else self.s.last_file
        if self.s.segment is not None:
            self.s.segment.marked = True
        self._emit(MarkImportant(**self._envelope(), event="mark_important", file_name=target))

    def _on_sos(self) -> None:
        self._start_recording(self._cfg.pre_event_s, min_duration_s=360.0)  # SOS always records
        self.s.sos = True
        self._emit(Sos(**self._envelope(), event="sos", gps=self._fix()))
        self._agenda["sos_clear"] = self.now + self._rng.uniform(60, 300)
        self._after("sos", self._cfg.sos_every_s)

    def _on_sos_clear(self) -> None:
        self._agenda.pop("sos_clear", None)
        if self.s.sos:
            self.s.sos = False
            self._emit(SosClear(**self._envelope(), event="sos_clear"))

    def _on_case_tag(self, case_no: str | None = None) -> None:
        officer = self.ident.officer
        case_no = case_no or f"A{officer.unit_no}{self.device_time():%Y%m}{self._rng.randint(1, 9999):04d}"
        self._emit(CaseTag(**self._envelope(), event="case_tag", case_no=case_no, file_name=self.s.last_file))

    def _telemetry(self) -> TelemetryPayload:
        storage = self.s.storage_mb
        if self.s.segment is not None:
            storage -= (self.now - self.s.segment.start_t) * BITRATE_BPS / 1e6
        return TelemetryPayload(
            **self._envelope(), gps=self._fix(), battery_pct=math.ceil(self._battery()),
            storage_free_mb=max(0, int(storage)), recording=self.s.recording,
            signal_dbm=self._rng.randint(-112, -65),
        )  # fmt: skip

    def _on_telemetry(self) -> None:
        self._emit(self._telemetry())
        cfg = self._cfg
        every = cfg.telemetry_recording_s if self.s.recording else cfg.telemetry_idle_s
        self._agenda["telemetry"] = self.now + every

    def act(self, action: str, **kwargs: Any) -> None:
        """Force a happening now (``fleet.force_*`` calls this); ignored while the camera is off."""
        if not self.s.powered:
            return
        if action == "offline":
            self._agenda.pop("net_down", None)
            self.s.net_ok = False
            self._link_down(clean=False)
            duration = kwargs.get("duration_s")
            if duration is None:
                self._agenda.pop("net_up", None)  # until force_online
            else:
                self._agenda["net_up"] = self.now + float(duration)
        elif action == "online":
            if not self.s.net_ok:
                self._agenda.pop("net_up", None)
                self._on_net_up()
        elif action == "record_start":
            self._start_recording(self._cfg.pre_event_s)
        elif action == "record_stop":
            if self.s.recording:
                self._on_rec_stop()
        elif action == "clock_jump":
            self.clock.jump(self.now, float(kwargs["delta_s"]))
        elif action == "battery":
            self._settle_battery()
            self.s.battery = float(kwargs["pct"])
            self._settle_battery()
        else:
            getattr(self, f"_on_{action}")(**kwargs)

    def inject(self, mode: FaultMode) -> list[Outgoing]:
        """Publish one deliberately broken telemetry message (and return what was queued)."""
        if not self.s.connected:
            raise RuntimeError(f"{self.ident.device_id} is not connected")
        before = len(self._out)
        for out in apply_fault(mode, encode_camera(self._telemetry()), other_device=self._peer):
            self._push(out)
        return [o for _, o in self._out[before:] if isinstance(o, Outgoing)]

    def command(self, cmd: AnyCommand) -> None:
        """React to a station command. Expiry is judged on the device's own clock, except time_sync:
        a clock far off would otherwise refuse the very command that fixes it."""
        if not self.s.powered:
            return
        if isinstance(cmd, TimeSync):
            self.clock.sync(self.now, self._rng.gauss(0.0, 0.05))
        elif cmd.cmd in ("record_start", "record_stop") and self.device_time() <= cmd.expires_at:
            self.act(cmd.cmd)
