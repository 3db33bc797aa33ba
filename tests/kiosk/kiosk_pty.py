"""Helpers for the kiosk pty tests (tests/ is on pytest's pythonpath)."""

from pathlib import Path

from edge.kiosk.device import DeviceState, DeviceStatus
from edge.kiosk.serial_port import LinkConfig


def online(s: DeviceStatus) -> bool:
    return s.device is DeviceState.ONLINE


def link(path: Path, baud: int = 115200, *, trace: bool = False) -> LinkConfig:
    return LinkConfig(str(path), baud, reconnect_min=0.02, reconnect_max=0.1, trace=trace)
