"""Disk safety: watermarks, admission of new uploads, alerts on transitions.

The rule users of open-source recorders ask for: when the disk fills, never delete evidence (or any
unexpired footage) to make room. Instead: warn at the high watermark; at the critical one refuse new
routine footage with 507 while still taking evidence-marked files, down to a hard floor of free space.

One budget (budget.py): the footage filesystem's use, plus the database and WAL if they live elsewhere,
and optionally ``disk_budget_gb`` over footage, thumbnails, partial files, database and WAL together. The
worse of the two readings sets the level; the hard floor is about the real filesystem only.
"""

from __future__ import annotations

import enum
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from edge.alerts import Alert, AlertBus, Severity
from edge.bodycam.footage.budget import Usage, UsageMeter
from edge.bodycam.footage.config import FootageConfig
from edge.web.problems import ProblemError

log = logging.getLogger(__name__)
_MB = 1 << 20


class DiskLevel(enum.IntEnum):
    OK = 0
    HIGH = 1
    CRITICAL = 2
    FLOOR = 3  # below the hard floor: nothing new is taken, evidence included


@dataclass(frozen=True, slots=True)
class Reading:
    where: str  # "footage filesystem", "footage filesystem + database", "disk budget"
    total: int
    free: int

    @property
    def used_pct(self) -> float:
        return _pct(self.total, self.free)


@dataclass(frozen=True, slots=True)
class DiskState:
    total: int
    free: int
    used_pct: float
    level: DiskLevel
    where: str = "footage filesystem"  # the reading that set the level
    usage: Usage | None = None
    readings: tuple[Reading, ...] = ()
    filesystem_free: int = 0  # the footage filesystem's real free bytes (the hard floor's measure)

    def as_json(self) -> dict[str, object]:
        return {"total_bytes": self.total, "free_bytes": self.free, "used_pct": round(self.used_pct, 2),
                "level": self.level.name.lower(), "measured_on": self.where,
                **({"usage": self.usage.as_json()} if self.usage is not None else {})}

    def describe(self) -> str:
        parts = "" if self.usage is None else (
            f" (footage {_gb(self.usage.footage + self.usage.partial)}, thumbnails {_gb(self.usage.thumbnails)},"
            f" database {_gb(self.usage.database)}, WAL {_gb(self.usage.wal)})")
        return f"{self.where} {self.used_pct:.1f} % used{parts}"


def _pct(total: int, free: int) -> float:
    return 100.0 * (total - free) / total if total else 100.0


def _gb(n: int) -> str:
    return f"{n / 2**30:.2f} GB" if n >= 2**30 else f"{n / 2**20:.1f} MB"


def insufficient(detail: str, state: DiskState) -> ProblemError:
    return ProblemError(507, "insufficient-storage", detail, free_bytes=state.free, level=state.level.name.lower())


class DiskGuard:
    def __init__(self, path: Path, config: FootageConfig, alerts: AlertBus, *,
                 usage: UsageMeter | None = None) -> None:
        self.path = path
        self.config = config
        self._alerts = alerts
        self._usage = usage
        self.level: DiskLevel | None = None  # last level alerted on; None before the first check
        self._floor = config.hard_floor_mb * _MB

    def sample(self) -> DiskState:
        st = os.statvfs(self.path)
        total = st.f_blocks * st.f_frsize
        fs_free = st.f_bavail * st.f_frsize
        usage = self._usage.current() if self._usage is not None else None
        readings = [Reading("footage filesystem", total, fs_free)]
        if usage is not None and usage.database_elsewhere:
            # The database's disk is another one, but its bytes still count against the one budget.
            readings[0] = Reading("footage filesystem + database", total, max(0, fs_free - usage.database - usage.wal))
        if usage is not None and self.config.disk_budget_gb is not None:
            cap = int(self.config.disk_budget_gb * 2**30)
            readings.append(Reading("disk budget", cap, max(0, cap - usage.total)))
        levels = [(self._level(r.used_pct), r.used_pct, r) for r in readings]
        level, _, worst = max(levels, key=lambda item: (item[0], item[1]))
        if fs_free < self._floor:
            level = DiskLevel.FLOOR
        return DiskState(worst.total, worst.free, worst.used_pct, level, worst.where, usage, tuple(readings), fs_free)

    def _level(self, used_pct: float) -> DiskLevel:
        if used_pct >= self.config.critical_watermark_pct:
            return DiskLevel.CRITICAL
        if used_pct >= self.config.high_watermark_pct:
            return DiskLevel.HIGH
        return DiskLevel.OK

    def admit(self, nbytes: int, *, evidence: bool) -> DiskState:
        """Raise a 507 problem unless ``nbytes`` more may be written for this kind of footage."""
        state = self.sample()
        free_after = state.filesystem_free - nbytes
        if free_after < self._floor:
            raise insufficient(
                f"storage full: {nbytes} more bytes would leave {max(free_after, 0)} bytes free, below the hard "
                f"floor of {self.config.hard_floor_mb} MB; nothing is deleted to make room", state)
        for reading in state.readings:
            used_after = _pct(reading.total, reading.free - nbytes)
            if not evidence and used_after >= self.config.critical_watermark_pct:
                raise insufficient(
                    f"storage critical ({reading.where} {reading.used_pct:.1f} % used, {used_after:.1f} % after "
                    f"this file; critical at {self.config.critical_watermark_pct} %): routine footage is refused, "
                    "evidence-marked footage is still accepted; retry later", state)
        return state

    async def check(self) -> DiskState:
        """Measure, sample, and raise or clear alerts if the level changed since the last check."""
        if self._usage is not None:
            await self._usage.refresh()
        state = self.sample()
        previous = self.level
        if previous == state.level:
            return state
        self.level = state.level
        log.log(logging.WARNING if state.level else logging.INFO, "disk level %s -> %s: %s",
                previous.name if previous is not None else "start", state.level.name, state.describe())
        details = state.as_json()
        # The warning (high) always comes before critical: high_watermark_pct < critical_watermark_pct.
        if state.level >= DiskLevel.HIGH:
            await self._alerts.raise_alert(Alert(
                "disk.high:footage", "disk.high", Severity.WARNING, "station:footage-disk",
                f"{state.describe()} (high watermark {self.config.high_watermark_pct} %)", details))
        else:
            await self._alerts.clear_alert("disk.high:footage", f"back to {state.describe()}")
        if state.level >= DiskLevel.CRITICAL:
            floor = " and below the hard floor: evidence refused too" if state.level == DiskLevel.FLOOR else ""
            await self._alerts.raise_alert(Alert(
                "disk.critical:footage", "disk.critical", Severity.CRITICAL, "station:footage-disk",
                f"{state.describe()}: routine footage refused{floor}", details))
        else:
            await self._alerts.clear_alert("disk.critical:footage", f"back to {state.describe()}")
        return state
