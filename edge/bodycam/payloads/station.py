"""Payloads the station publishes: commands to one camera and alerts for supervisors (version 1)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from edge.bodycam.payloads.camera import Envelope, GpsFix, Strict
from edge.bodycam.payloads.ids import (
    DeviceId,
    FileName,
    MsgId,
    OfficerNo,
    Seq,
    ShortText,
    StationId,
    UtcDatetime,
)


class CommandEnvelope(Envelope):
    """``bwc/{device_id}/cmd/{cmd}``: ``device_id`` is the target, ``seq``/``ts`` are the station's."""

    # A camera drops a command past this instant: a time sync or "start recording" queued in a
    # persistent session must not act minutes later, after a reconnect.
    expires_at: UtcDatetime

    @model_validator(mode="after")
    def _expiry_after_ts(self) -> CommandEnvelope:
        if self.expires_at <= self.ts:
            raise ValueError("expires_at must be after ts")
        return self


class TimeSync(CommandEnvelope):
    cmd: Literal["time_sync"]
    # Device minus station clock as the station measured it (informational; ts is the reference).
    measured_offset_ms: Annotated[int, Field(ge=-(2**40), le=2**40)]


class RecordStartCmd(CommandEnvelope):
    cmd: Literal["record_start"]
    reason: ShortText | None = None


class RecordStopCmd(CommandEnvelope):
    cmd: Literal["record_stop"]
    reason: ShortText | None = None


class RequestUpload(CommandEnvelope):
    cmd: Literal["request_upload"]
    file_names: Annotated[list[FileName], Field(min_length=1, max_length=50)] | None = None  # None: all
    marked_only: bool = False


class StartLive(CommandEnvelope):
    cmd: Literal["start_live"]
    url: Annotated[str, Field(pattern=r"^(rtmps?|rtsps?|srt|https)://[!-~]{1,400}$")]
    max_duration_s: Annotated[int, Field(ge=1, le=4 * 3600)]


AnyCommand = TimeSync | RecordStartCmd | RecordStopCmd | RequestUpload | StartLive
CommandPayload = Annotated[AnyCommand, Field(discriminator="cmd")]
COMMAND_NAMES: tuple[str, ...] = ("time_sync", "record_start", "record_stop", "request_upload", "start_live")

AlertKind = Literal[
    "sos",
    "sos_clear",
    "offline",
    "low_battery",
    "low_storage",
    "clock_drift",
    "footage_overdue",
]


class AlertPayload(Strict):
    """``edge/{station_id}/alerts`` — one alert raised (or cleared) by the station."""

    v: Literal[1]
    station_id: StationId
    seq: Seq  # per station
    msg_id: MsgId
    ts: UtcDatetime  # station clock when raised
    kind: AlertKind
    severity: Literal["critical", "warning", "info"]
    device_id: DeviceId | None = None  # None: a station-wide alert
    officer_no: OfficerNo | None = None
    message: ShortText
    gps: GpsFix | None = None
    device_ts: UtcDatetime | None = None  # the device's own time of the triggering message, if any
    file_name: FileName | None = None
