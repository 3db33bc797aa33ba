"""The fleet: N cameras advanced together by explicit simulated time steps. No MQTT, no clock reads."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from devices.simulators.bodycam_fleet.camera import SimCamera
from devices.simulators.bodycam_fleet.config import FleetConfig, LinkChange
from devices.simulators.bodycam_fleet.faults import FaultMode
from devices.simulators.bodycam_fleet.roster import CameraIdentity, build_roster
from edge.bodycam.payloads import Outgoing, PayloadRejected, decode_command


class BodycamFleet:
    """Deterministic for a seed: the same seed, start, config and calls give the same bytes.

    Each camera draws from its own ``random.Random`` seeded from (seed, device id), so one camera's
    forced events do not change what the others do.
    """

    def __init__(self, count: int, *, seed: int, start: datetime, config: FleetConfig | None = None) -> None:
        if start.utcoffset() is None:
            raise ValueError("start must be timezone-aware")
        self.config = config or FleetConfig()
        self.start = start
        self._t = 0.0
        self._links: list[LinkChange] = []
        roster = build_roster(
            count,
            random.Random(f"{seed}/roster"),
            start=start,
            shift_length=self.config.shift_length,
            shift_stagger=self.config.shift_stagger,
            station_name=self.config.station_name,
        )
        peer = roster[-1].device_id if count > 1 else "cam-9999"
        self._cams = {
            ident.device_id: SimCamera(
                ident,
                self.config,
                start,
                f"{seed}/{ident.device_id}",
                roster[0].device_id if ident.device_id == peer else peer,
            )
            for ident in roster
        }

    @property
    def now(self) -> datetime:
        """True (gateway) time of the simulation."""
        return self.start + timedelta(seconds=self._t)

    @property
    def cameras(self) -> list[CameraIdentity]:
        """Roster for enrolment: device, serial, model, officer, shift."""
        return [cam.ident for cam in self._cams.values()]

    def camera(self, device_id: str) -> SimCamera:
        try:
            return self._cams[device_id]
        except KeyError:
            raise KeyError(f"no simulated camera {device_id!r}") from None

    def step(self, dt: timedelta) -> list[Outgoing]:
        """Advance by ``dt`` (may be zero, to collect forced events) and return what to publish, in order.

        Connection changes made during the step are collected by ``take_link_changes``; each names the
        index of the first output it must precede.
        """
        seconds = dt.total_seconds()
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._t += seconds
        happened: list[tuple[float, int, int, Outgoing | LinkChange]] = []
        for idx, cam in enumerate(self._cams.values()):
            happened.extend((t, idx, n, item) for n, (t, item) in enumerate(cam.advance(self._t)))
        happened.sort(key=lambda h: h[:3])
        out: list[Outgoing] = []
        for *_, item in happened:
            if isinstance(item, LinkChange):
                self._links.append(replace(item, before=len(out)))
            else:
                out.append(item)
        return out

    def take_link_changes(self) -> list[LinkChange]:
        """Connection changes since the last call, in order (``before`` indexes the last step's output)."""
        links, self._links = self._links, []
        return links

    def handle_command(self, topic: str, payload: bytes) -> bool:
        """Deliver a station command as the camera would receive it; False if the camera refuses it."""
        levels = topic.split("/")
        cam = self._cams.get(levels[1]) if len(levels) > 1 else None
        if cam is None:
            return False
        try:
            cmd = decode_command(topic, payload, cam.device_time(self._t))
        except PayloadRejected:
            return False
        cam.command(cmd)
        return True

    # -- scripting: each takes effect now; its messages come out of the next step (dt may be 0) ------
    def _act(self, device_id: str, action: str, **kwargs: Any) -> None:
        self.camera(device_id).act(action, **kwargs)  # every camera's clock already stands at self._t

    def force_sos(self, device_id: str) -> None:
        self._act(device_id, "sos")

    def force_sos_clear(self, device_id: str) -> None:
        self._act(device_id, "sos_clear")

    def force_offline(self, device_id: str, duration: timedelta | None = None) -> None:
        """Lose the network (the broker fires the will); back after ``duration`` or ``force_online``."""
        self._act(device_id, "offline", duration_s=None if duration is None else duration.total_seconds())

    def force_online(self, device_id: str) -> None:
        self._act(device_id, "online")

    def force_record_start(self, device_id: str) -> None:
        self._act(device_id, "record_start")

    def force_record_stop(self, device_id: str) -> None:
        self._act(device_id, "record_stop")

    def force_mark(self, device_id: str) -> None:
        self._act(device_id, "mark")

    def force_case_tag(self, device_id: str, case_no: str) -> None:
        self._act(device_id, "case_tag", case_no=case_no)

    def force_dock(self, device_id: str) -> None:
        """End the shift now: stop recording, docked event, clean offline status, disconnect."""
        self._act(device_id, "shift_end")

    def force_clock_jump(self, device_id: str, delta: timedelta) -> None:
        self._act(device_id, "clock_jump", delta_s=delta.total_seconds())

    def force_battery(self, device_id: str, pct: float) -> None:
        self._act(device_id, "battery", pct=pct)

    def inject_fault(self, device_id: str, mode: FaultMode) -> list[Outgoing]:
        """Queue one off-contract publication for the next step; returns it (two for DUPLICATE)."""
        return self.camera(device_id).inject(mode)
