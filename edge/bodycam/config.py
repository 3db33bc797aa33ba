"""The ``[bodycam]`` config section: broker provisioning, liveness, thresholds, clocks, deadlines."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from edge.config_section import ConfigSection

# Watched by deploy/station-edge-broker-reload.path (PathExists=).
RELOAD_FLAG = "reload-requested"


class BodycamConfig(ConfigSection):
    # The timedelta views below are cached_property: some are read for every camera message, and the
    # section never changes after loading.

    # Directory the daemon owns for the broker's files: passwd, acl and the reload-requested flag
    # (None: this station does not manage its broker's accounts). Mosquitto's include points at it.
    broker_dir: Path | None = None
    # How the broker learns of a change. path-unit: the daemon only writes the flag file and the
    # station-edge-broker-reload.path unit (root) reloads mosquitto; an unprivileged service may not
    # signal or reload another user's broker. signal: SIGHUP the pid in broker_pid_file (a broker the
    # daemon's user runs itself: the demo's, the tests').
    broker_reload: Literal["path-unit", "signal"] = "path-unit"
    broker_pid_file: Path | None = None
    # A camera that sent nothing for this long is offline even if the broker never fired its will.
    heartbeat_timeout_s: Annotated[float, Field(gt=0)] = 120.0
    battery_warning_pct: Annotated[int, Field(ge=0, le=100)] = 20
    battery_critical_pct: Annotated[int, Field(ge=0, le=100)] = 10
    storage_warning_mb: Annotated[int, Field(ge=0)] = 4_000
    storage_critical_mb: Annotated[int, Field(ge=0)] = 1_000
    # Smoothed |device - gateway| clock offset beyond which we alert and send time_sync...
    clock_drift_bound_s: Annotated[float, Field(gt=0)] = 3.0
    # ...once it stayed beyond the bound for this long on the gateway's clock and over this many messages:
    # a backlog flushed after an outage or a broker queue delays messages for a while, a drifting clock
    # stays off. (A queue that delays everything for longer than this is indistinguishable from drift.)
    clock_drift_persist_s: Annotated[float, Field(ge=0)] = 60.0
    clock_drift_min_samples: Annotated[int, Field(ge=1)] = 5
    # The alert clears once the offset is back within this (hysteresis); None: half the bound.
    clock_drift_clear_s: Annotated[float, Field(gt=0)] | None = None
    # At most one time_sync command per device this often, however long its clock stays off.
    time_sync_interval_s: Annotated[float, Field(gt=0)] = 600.0
    # Footage must be ingested within this many hours of the officer's shift end (or of its announcement
    # when no shift covers the file).
    upload_deadline_h: Annotated[float, Field(gt=0)] = 24.0
    # Device timestamps further than this from the receive time are refused (timestamp_out_of_range).
    max_payload_skew_s: Annotated[float, Field(gt=0)] = 86_400.0
    # GPS/telemetry rows are written in batches of this size or after this delay, whichever comes first.
    telemetry_batch_rows: Annotated[int, Field(ge=1, le=10_000)] = 200
    telemetry_batch_s: Annotated[float, Field(gt=0, le=10)] = 0.5
    # Telemetry is acknowledged once its batch committed (synchronous=NORMAL); a batch commits with FULL
    # (fsync) when the WAL was last fsynced longer ago than this. A power cut can lose the acknowledged
    # telemetry of about this long; 0: every batch fsyncs.
    telemetry_sync_s: Annotated[float, Field(ge=0, le=60)] = 1.0
    # How often the overdue-footage and heartbeat checks run.
    check_interval_s: Annotated[float, Field(gt=0)] = 30.0

    @model_validator(mode="after")
    def _clear_within_bound(self) -> BodycamConfig:
        if self.clock_drift_clear_s is not None and self.clock_drift_clear_s >= self.clock_drift_bound_s:
            raise ValueError("clock_drift_clear_s must be below clock_drift_bound_s (hysteresis)")
        return self

    @model_validator(mode="after")
    def _signal_needs_pid_file(self) -> BodycamConfig:
        if self.broker_reload == "signal" and self.broker_pid_file is None:
            raise ValueError("broker_reload = \"signal\" needs broker_pid_file (the broker's pid file)")
        return self

    @property
    def broker_password_file(self) -> Path | None:
        return None if self.broker_dir is None else self.broker_dir / "passwd"

    @property
    def broker_acl_file(self) -> Path | None:
        return None if self.broker_dir is None else self.broker_dir / "acl"

    @property
    def broker_reload_flag(self) -> Path | None:
        """Created after both files are in place; the path unit reloads the broker and removes it."""
        return None if self.broker_dir is None else self.broker_dir / RELOAD_FLAG

    @cached_property
    def heartbeat_timeout(self) -> timedelta:
        return timedelta(seconds=self.heartbeat_timeout_s)

    @cached_property
    def clock_drift_bound(self) -> timedelta:
        return timedelta(seconds=self.clock_drift_bound_s)

    @cached_property
    def clock_drift_clear(self) -> timedelta:
        clear = self.clock_drift_bound_s / 2 if self.clock_drift_clear_s is None else self.clock_drift_clear_s
        return timedelta(seconds=clear)

    @cached_property
    def clock_drift_persist(self) -> timedelta:
        return timedelta(seconds=self.clock_drift_persist_s)

    @cached_property
    def time_sync_interval(self) -> timedelta:
        return timedelta(seconds=self.time_sync_interval_s)

    @cached_property
    def upload_deadline(self) -> timedelta:
        return timedelta(hours=self.upload_deadline_h)

    @cached_property
    def max_payload_skew(self) -> timedelta:
        return timedelta(seconds=self.max_payload_skew_s)
