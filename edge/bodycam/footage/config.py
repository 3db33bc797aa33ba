"""The ``[footage]`` config section: where footage lives, disk watermarks, retention, dock, probing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from edge.config_section import ConfigSection

# Article 13 of the on-scene recording rules: at least six months. 183 days covers any six months.
MIN_ROUTINE_RETENTION_DAYS = 183


class FootageConfig(ConfigSection):

    enabled: bool = True
    # None: {station.data_dir}/footage. Its own filesystem is best: a full footage disk then never stops
    # the database.
    dir: Path | None = None
    # Disk watermarks on the footage filesystem, in percent used. high: warn; critical: refuse new routine
    # footage (507) while evidence-marked uploads are still taken down to hard_floor_mb free.
    high_watermark_pct: Annotated[float, Field(gt=0, le=100)] = 85.0
    critical_watermark_pct: Annotated[float, Field(gt=0, le=100)] = 95.0
    hard_floor_mb: Annotated[int, Field(ge=0)] = 512
    # One budget, in GiB, for footage, partial uploads, thumbnails, the database and its WAL together; the
    # watermarks then apply to it as well as to the filesystem. None: the footage filesystem is the budget.
    disk_budget_gb: Annotated[float, Field(gt=0)] | None = None
    disk_check_interval_s: Annotated[float, Field(gt=0)] = 10.0
    # Routine footage is kept at least this long; below 183 days needs retention_override_reason (it is
    # written to the custody log at every start).
    routine_retention_days: Annotated[int, Field(ge=1)] = MIN_ROUTINE_RETENTION_DAYS
    retention_override_reason: str = ""
    retention_interval_s: Annotated[float, Field(gt=0)] = 86_400.0
    # Largest single upload accepted (declared Upload-Length).
    max_upload_bytes: Annotated[int, Field(ge=1)] = 64 * 2**30
    # An upload's durable offset is checkpointed (fsync + database) every this many bytes within a request.
    checkpoint_bytes: Annotated[int, Field(ge=2**20)] = 64 * 2**20
    # Unfinished uploads untouched this long are reported (never removed automatically).
    stale_upload_h: Annotated[float, Field(gt=0)] = 72.0
    # Workstation mode: docked cameras' storage appears here, one folder per device id. None: off.
    dock_dir: Path | None = None
    dock_scan_interval_s: Annotated[float, Field(gt=0)] = 5.0
    # A dock file is copied only once its size and mtime stayed the same for this long.
    dock_settle_s: Annotated[float, Field(ge=0)] = 2.0
    # A dock file whose copy fails (read error, or the second read differs) is tried this many times in all,
    # one try per scan; then it is left on the camera until it changes (size or mtime), with an alert.
    dock_max_attempts: Annotated[int, Field(ge=1, le=100)] = 3
    probe_workers: Annotated[int, Field(ge=1, le=32)] = 2
    probe_pool: Literal["process", "thread"] = "process"
    # Threads that hash and write upload data (two per active chunk: one hashes while the other writes).
    io_workers: Annotated[int, Field(ge=2, le=256)] = 16

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.high_watermark_pct >= self.critical_watermark_pct:
            raise ValueError("high_watermark_pct must be below critical_watermark_pct")
        if self.routine_retention_days < MIN_ROUTINE_RETENTION_DAYS and not self.retention_override_reason.strip():
            raise ValueError(
                f"routine_retention_days below {MIN_ROUTINE_RETENTION_DAYS} (six months) breaks the recording "
                "rules; set retention_override_reason to say why (it is logged in the custody log)"
            )
        return self

    def root(self, data_dir: Path) -> Path:
        return self.dir if self.dir is not None else data_dir / "footage"
