"""A day of cases consistent with the simulated camera fleet of the same seed.

The roster (officers, shifts) comes from ``BodycamFleet(cameras, seed=..., start=...)``, so the case feed
names the officers who carry the simulated cameras. The script says when those cameras must record (and
tag) so that footage exists for the incidents that should have it:

- ``with-footage``: cam 1's officer, dispatched 1 h into the shift for 40 min; cam 1 records 25 min of it;
- ``tagged``: cam 2's officer; cam 2 records and then tags the case number (decisive);
- ``no-footage``: cam 3's officer, a window that ended 23 h before the fleet's start, while the camera was
  off: no footage can exist, so the "officer without footage" warning is due about an hour after start;
- ``overlap-a``/``overlap-b``: cam 4's officer on two overlapping incidents; cam 4 records inside both.
  Time cannot tell them apart; the GPS track can: ``overlap-b`` is in the patrol area (linked),
  ``overlap-a`` ~8 km away (place score 0, total 0.6: the one review item of the day);
- ``late``: cam 5's officer; the case reaches the feed only after ``late_after_polls`` polls or
  ``late_after_s`` seconds, and re-linking then links the footage recorded before it was known;
- ``gap``: cam 6 records three times with no case; the announcement of its second file is lost (the
  driver drops it, ``Scenario.dropped``), so the station sees files 1 and 3 only: a sequence gap.

Case numbers carry the start minute, so demo runs on one station never reuse a number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from devices.simulators.bodycam_fleet import BodycamFleet, FleetConfig
from devices.simulators.bodycam_fleet.roster import CameraIdentity

M = timedelta(minutes=1)
H = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class ScriptStep:
    at: timedelta  # after the fleet's start
    device_id: str
    action: str  # record_start, record_stop, case_tag
    case_no: str | None = None

    def apply(self, fleet: BodycamFleet) -> None:
        if self.action == "case_tag":
            assert self.case_no is not None
            fleet.force_case_tag(self.device_id, self.case_no)
        else:
            getattr(fleet, f"force_{self.action}")(self.device_id)


@dataclass(frozen=True, slots=True)
class Incident:
    name: str
    record: dict[str, Any]
    expect: str  # what the station should conclude: linked, review, no_footage
    late: bool = False


@dataclass
class Scenario:
    seed: int
    start: datetime
    roster: list[CameraIdentity]
    incidents: list[Incident] = field(default_factory=list)
    script: list[ScriptStep] = field(default_factory=list)
    dropped: set[tuple[str, int]] = field(default_factory=set)  # (device id, file index) never announced

    def steps_between(self, t0: timedelta, t1: timedelta) -> list[ScriptStep]:
        """Script steps due in (t0, t1], in order (the demo drives the fleet with these)."""
        return [s for s in self.script if t0 < s.at <= t1]

    def by_name(self, name: str) -> Incident:
        return next(i for i in self.incidents if i.name == name)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _number(cam: CameraIdentity, start: datetime, n: int) -> str:
    return f"A{cam.officer.unit_no}{start:%Y%m%d%H%M}{n:02d}"


def build_scenario(seed: int, start: datetime, *, cameras: int = 6, config: FleetConfig | None = None
                   ) -> Scenario:
    if cameras < 6:
        raise ValueError("the scenario needs at least 6 cameras")
    cfg = config or FleetConfig()
    roster = BodycamFleet(cameras, seed=seed, start=start, config=cfg).cameras
    scenario = Scenario(seed, start, roster)
    place = {"lat": cfg.lat, "lon": cfg.lon, "radius_m": 3000.0}  # the patrol area: GPS cannot contradict

    def incident(name: str, cam: CameraIdentity, n: int, t0: timedelta, t1: timedelta, expect: str, *,
                 location: dict[str, float] | None = None, late: bool = False, title: str = "") -> str:
        shift = cam.shift.start - start
        number = _number(cam, start, n)
        scenario.incidents.append(Incident(name, {
            "number": number, "revision": 1, "updated_at": _iso(start + shift + t0), "kind": "incident",
            "status": "open", "title": title or name, "officers": [cam.officer.number],
            "windows": [{"label": "dispatched", "start": _iso(start + shift + t0), "end": _iso(start + shift + t1)}],
            "location": location,
            "deadlines": [{"kind": "footage_upload", "due": _iso(start + shift + t1 + 24 * H)}],
        }, expect, late))
        return number

    c1, c2, c3, c4, c5, c6 = roster[:6]
    # ~8 km north-east of the patrol area: no fix of the day comes within radius + falloff of it.
    far = {"lat": cfg.lat + 0.06, "lon": cfg.lon + 0.04, "radius_m": 200.0}
    incident("with-footage", c1, 1, 1 * H, 1 * H + 40 * M, "linked", location=place, title="Traffic dispute")
    scenario.script += [ScriptStep(1 * H + 5 * M, c1.device_id, "record_start"),
                        ScriptStep(1 * H + 30 * M, c1.device_id, "record_stop")]
    tagged = incident("tagged", c2, 2, 2 * H, 2 * H + 30 * M, "linked", location=place, title="Shop theft")
    scenario.script += [ScriptStep(2 * H + 2 * M, c2.device_id, "record_start"),
                        ScriptStep(2 * H + 20 * M, c2.device_id, "record_stop"),
                        ScriptStep(2 * H + 21 * M, c2.device_id, "case_tag", tagged)]
    offset = c3.shift.start - start
    incident("no-footage", c3, 3, -24 * H - offset, -23 * H - offset, "no_footage", title="Noise complaint")
    incident("overlap-a", c4, 4, 3 * H, 4 * H, "review", location=far, title="Domestic call")
    incident("overlap-b", c4, 5, 3 * H + 10 * M, 3 * H + 50 * M, "linked", location=place,
             title="Street fight nearby")
    scenario.script += [ScriptStep(3 * H + 15 * M, c4.device_id, "record_start"),
                        ScriptStep(3 * H + 40 * M, c4.device_id, "record_stop")]
    incident("late", c5, 6, 1 * H + 30 * M, 2 * H, "linked", location=place, late=True, title="Lost child")
    scenario.script += [ScriptStep(1 * H + 35 * M, c5.device_id, "record_start"),
                        ScriptStep(1 * H + 55 * M, c5.device_id, "record_stop")]
    scenario.script += [ScriptStep(30 * M, c6.device_id, "record_start"),
                        ScriptStep(35 * M, c6.device_id, "record_stop"),
                        ScriptStep(45 * M, c6.device_id, "record_start"),
                        ScriptStep(50 * M, c6.device_id, "record_stop"),
                        ScriptStep(55 * M, c6.device_id, "record_start"),
                        ScriptStep(58 * M, c6.device_id, "record_stop")]
    scenario.dropped.add((c6.device_id, 2))
    scenario.script.sort(key=lambda s: (s.at, s.device_id))
    return scenario
