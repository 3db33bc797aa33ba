"""Disk safety for the footage filesystem: watermarks, admission of new uploads, alerts on transitions.

The rule users of open-source recorders ask for: when the disk fills, never delete evidence (or any
unexpired footage) to make room. Instead: warn at the high watermark; at the critical one refuse new
routine footage with 507 while still taking evidence-marked files, down to a hard floor of free space.
"""

from __future__ import annotations

import enum
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from edge.alerts import Alert, AlertBus, Severity
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
class DiskState:
    total: int
    free: int
    used_pct: float
    level: DiskLevel

    def as_json(self) -> dict[str, object]:
        return {"total_bytes": self.total, "free_bytes": self.free, "used_pct": round(self.used_pct, 2),
                "level": self.level.name.lower()}


def insufficient(detail: str, state: DiskState) -> ProblemError:
    return ProblemError(507, "insufficient-storage", detail, free_bytes=state.free, level=state.level.name.lower())


class DiskGuard:
    def __init__(self, path: Path, config: FootageConfig, alerts: AlertBus) -> None:
        self.path = path
        self.config = config
        self._alerts = alerts
        self.level: DiskLevel | None = None  # last level alerted on; None before the first check
        self._floor = config.hard_floor_mb * _MB

    def sample(self) -> DiskState:
        st = os.statvfs(self.path)
        total = st.f_blocks * st.f_frsize
        free = st.f_bavail * st.f_frsize
        used_pct = 100.0 * (total - free) / total if total else 100.0
        return DiskState(total, free, used_pct, self._level(free, used_pct))

    def _level(self, free: int, used_pct: float) -> DiskLevel:
        if free < self._floor:
            return DiskLevel.FLOOR
        if used_pct >= self.config.critical_watermark_pct:
            return DiskLevel.CRITICAL
        if used_pct >= self.config.high_watermark_pct:
            return DiskLevel.HIGH
        return DiskLevel.OK

    def admit(self, nbytes: int, *, evidence: bool) -> DiskState:
        """Raise a 507 problem unless ``nbytes`` more may be written for this kind of footage."""
        state = self.sample()
        free_after = state.free - nbytes
        if free_after < self._floor:
            raise insufficient(
                f"storage full: {nbytes} more bytes would leave {max(free_after, 0)} bytes free, below the hard "
                f"floor of {self.config.hard_floor_mb} MB; nothing is deleted to make room", state)
        used_after = 100.0 * (state.total - free_after) / state.total if state.total else 100.0
        if not evidence and used_after >= self.config.critical_watermark_pct:
            raise insufficient(
                f"storage critical ({state.used_pct:.1f} % used, {used_after:.1f} % after this file; critical at "
                f"{self.config.critical_watermark_pct} %): routine footage is refused, evidence-marked footage "
                "is still accepted; retry later", state)
        return state

    async def check(self) -> DiskState:
        """Sample, and raise or clear alerts if the level changed since the last check."""
        state = self.sample()
        previous = self.level
        if previous == state.level:
            return state
        self.level = state.level
        log.log(logging.WARNING if state.level else logging.INFO, "footage disk level %s -> %s (%.1f %% used)",
                previous.name if previous is not None else "start", state.level.name, state.used_pct)
        details = state.as_json()
        if state.level >= DiskLevel.HIGH:
            await self._alerts.raise_alert(Alert(
                "disk.high:footage", "disk.high", Severity.WARNING, "station:footage-disk",
                f"footage disk {state.used_pct:.1f} % used (high watermark {self.config.high_watermark_pct} %)",
                details))
        else:
            await self._alerts.clear_alert("disk.high:footage", f"footage disk back to {state.used_pct:.1f} % used")
        if state.level >= DiskLevel.CRITICAL:
            floor = " and below the hard floor: evidence refused too" if state.level == DiskLevel.FLOOR else ""
            await self._alerts.raise_alert(Alert(
                "disk.critical:footage", "disk.critical", Severity.CRITICAL, "station:footage-disk",
                f"footage disk {state.used_pct:.1f} % used: routine footage refused{floor}", details))
        else:
            await self._alerts.clear_alert("disk.critical:footage",
                                           f"footage disk back to {state.used_pct:.1f} % used")
        return state
