"""Who carries which camera: officers, units, shifts, device identities (GA/T 947 fields)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志宏"
_UNIT_NAMES = ("巡逻一中队", "巡逻二中队", "社区警务队", "案件办理队")


@dataclass(frozen=True, slots=True)
class Officer:
    number: str  # 6 digits
    name: str
    unit_no: str  # 12 digits
    unit_name: str


@dataclass(frozen=True, slots=True)
class Shift:
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class CameraIdentity:
    index: int
    device_id: str
    serial: str  # 7 characters (GA/T 947)
    model: str
    fw: str
    officer: Officer
    shift: Shift


def build_roster(
    count: int,
    rng: random.Random,
    *,
    start: datetime,
    shift_length: timedelta,
    shift_stagger: timedelta,
    station_name: str,
    region_code: str = "440304",
) -> list[CameraIdentity]:
    """``count`` cameras, each with a distinct officer, serial and shift (stagger spreads shift starts)."""
    if not 1 <= count <= 9999:
        raise ValueError("count must be 1..9999")
    numbers = rng.sample(range(100_000, 1_000_000), count)
    units = [(f"{region_code}{510_000 + 100 * k:06d}", f"{station_name}{name}") for k, name in enumerate(_UNIT_NAMES)]
    roster = []
    for i in range(count):
        name = rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))
        unit_no, unit_name = units[i % len(units)]
        shift_start = start + shift_stagger * (i / max(count - 1, 1)) if shift_stagger else start
        jitter = timedelta(seconds=rng.uniform(-600, 600))
        roster.append(
            CameraIdentity(
                index=i,
                device_id=f"cam-{i + 1:04d}",
                serial=f"BW{i + 1:05d}",
                model="DSJ-5G-V1",
                fw="1.4.2",
                officer=Officer(f"{numbers[i]:06d}", name, unit_no, unit_name),
                shift=Shift(shift_start, shift_start + shift_length + jitter),
            )
        )
    return roster
