"""Payloads the station publishes: commands to one camera and alerts for supervisors (version 1)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from edge.bodycam.payloads.camera import Envelope, Strict
from edge.bodycam.payloads.ids import (
    FileName,
    MsgId,
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

# Dotted kinds, domain first: bodycam.sos, footage.quarantined, disk.critical (see edge.alerts).
AlertKindText = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$", max_length=64)]


class AlertPayload(Strict):
    """``edge/{station_id}/alerts`` — one transition of a station alert, as ``edge.alerts.AlertBus`` sends it.

    Generic on purpose: every domain raises alerts through the same bus, so the payload carries the
    condition's ``key``, a dotted ``kind`` and free ``details`` rather than body-camera fields.
    """

    v: Literal[1]
    station_id: StationId
    seq: Seq  # per station process, increasing; restarts at 1 (use msg_id for identity)
    msg_id: MsgId
    ts: UtcDatetime  # station clock at the transition
    key: Annotated[str, StringConstraints(min_length=1, max_length=200)]  # the condition, e.g. sos:cam-0001
    kind: AlertKindText
    state: Literal["raised", "changed", "cleared"]
    severity: Literal["critical", "warning", "info"]
    subject: Annotated[str, StringConstraints(min_length=1, max_length=200)]  # device:cam-0001, station
    message: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    # Kind-specific facts (device_ts, gps, file_name, battery_pct...); bounded so an alert fits 4096 bytes.
    details: Annotated[dict[str, Any], Field(max_length=32)]
