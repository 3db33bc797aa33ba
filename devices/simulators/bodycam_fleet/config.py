"""Fleet settings and the connection-change record the MQTT wrapper acts on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from devices.simulators.bodycam_fleet.faults import FaultMode
from edge.bodycam.payloads import Outgoing


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """Rates are means in seconds; every default gives a lively but plausible 8-hour shift."""

    station_id: str = "st-futian-01"
    station_name: str = "福田派出所"
    lat: float = 22.5431
    lon: float = 114.0579
    shift_length: timedelta = timedelta(hours=8)
    shift_stagger: timedelta = timedelta(0)
    telemetry_recording_s: float = 10.0
    telemetry_idle_s: float = 30.0
    episode_every_s: float = 20 * 60.0
    episode_mean_s: float = 6 * 60.0
    file_split_s: float = 3600.0
    pre_event_s: int = 30
    mark_probability: float = 0.2
    case_tag_probability: float = 0.15
    sos_every_s: float = 6 * 3600.0
    net_loss_every_s: float = 2 * 3600.0
    net_loss_max_s: float = 300.0
    clock_jump_every_s: float = 24 * 3600.0
    fault_rate: float = 0.0  # share of non-status messages replaced by a fault
    fault_modes: tuple[FaultMode, ...] = tuple(FaultMode)
    buffer_limit: int = 2000  # messages a camera keeps while offline (oldest telemetry dropped first)
    # (device id, file name, seconds recorded) -> (size, SHA-256) of real content written for the file,
    # so that an uploader can send what the announcement promised. None: a stand-in size and hash.
    footage: Callable[[str, str, float], tuple[int, str]] | None = None


@dataclass(frozen=True, slots=True)
class LinkChange:
    """A connection change the MQTT wrapper must make before publishing output ``before`` of the step."""

    device_id: str
    up: bool
    # Down: clean means DISCONNECT (the broker discards the will); not clean means drop the socket so the
    # broker publishes the will. Up: connect registering ``will`` (retained, QoS 1).
    clean: bool = False
    will: Outgoing | None = None
    before: int = 0
