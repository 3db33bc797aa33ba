"""Payloads a camera publishes under ``bwc/{device_id}/`` (version 1)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge.bodycam.payloads.ids import (
    CaseNo,
    DeviceId,
    DockId,
    FileName,
    MsgId,
    OfficerNo,
    Seq,
    Serial,
    ShortText,
    UtcDatetime,
)

PAYLOAD_VERSION = 1


class Strict(BaseModel):
    """Base of every wire model: no unknown keys, no type coercion, immutable, finite floats."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


class Envelope(Strict):
    """Fields every payload carries: version, sender, ordering and identity, sender's clock."""

    # Required on the wire (no default): a payload without a version is not guessed at.
    v: Literal[1]
    device_id: DeviceId
    # Per-device, strictly increasing across the device's life (persisted across reboots): detects
    # QoS 1 redelivery and reordering.
    seq: Seq
    # Unique per message; a redelivery repeats it.
    msg_id: MsgId
    # The sender's clock when the payload was composed; never overwritten by the receiver.
    ts: UtcDatetime


class GpsFix(Strict):
    """A WGS-84 fix as the receiver reported it (not GCJ-02: map offsets are applied on display)."""

    lat: Annotated[float, Field(ge=-90.0, le=90.0)]
    lon: Annotated[float, Field(ge=-180.0, le=180.0)]
    accuracy_m: Annotated[float, Field(ge=0.0, le=100_000.0)]
    fix_at: UtcDatetime


class StatusPayload(Envelope):
    """``bwc/{id}/status`` — retained. Also the last will (``will: true``, state offline)."""

    state: Literal["online", "offline"]
    # Connection counter of the device: the will and the online message of one connection share it,
    # so the station can tell a late will of an old connection from the current one.
    session: Seq
    will: bool = False
    serial: Serial | None = None
    model: ShortText | None = None
    fw: ShortText | None = None

    @model_validator(mode="after")
    def _consistent(self) -> StatusPayload:
        if self.will and self.state != "offline":
            raise ValueError("a last will must say offline")
        if self.state == "online" and self.serial is None:
            raise ValueError("an online status must carry the device serial")
        return self


class TelemetryPayload(Envelope):
    """``bwc/{id}/telemetry`` — periodic state (about every 10 s while recording)."""

    gps: GpsFix | None  # None: no fix (indoors, cold start)
    battery_pct: Annotated[int, Field(ge=0, le=100)]
    storage_free_mb: Annotated[int, Field(ge=0, le=100_000_000)]
    recording: bool
    signal_dbm: Annotated[int, Field(ge=-150, le=0)]


class RecordStart(Envelope):
    event: Literal["record_start"]
    pre_event_s: Annotated[int, Field(ge=0, le=120)] = 0


class RecordStop(Envelope):
    event: Literal["record_stop"]


class MarkImportant(Envelope):
    event: Literal["mark_important"]
    file_name: FileName | None = None  # None: the recording in progress


class Sos(Envelope):
    event: Literal["sos"]
    gps: GpsFix | None = None


class SosClear(Envelope):
    event: Literal["sos_clear"]


class CaseTag(Envelope):
    event: Literal["case_tag"]
    case_no: CaseNo
    file_name: FileName | None = None  # None: the recording in progress or the last one


class Docked(Envelope):
    event: Literal["docked"]
    dock_id: DockId | None = None


class Undocked(Envelope):
    event: Literal["undocked"]
    dock_id: DockId | None = None


AnyEvent = RecordStart | RecordStop | MarkImportant | Sos | SosClear | CaseTag | Docked | Undocked
EventPayload = Annotated[AnyEvent, Field(discriminator="event")]
EVENT_KINDS: tuple[str, ...] = (
    "record_start",
    "record_stop",
    "mark_important",
    "sos",
    "sos_clear",
    "case_tag",
    "docked",
    "undocked",
)


class FilePayload(Envelope):
    """``bwc/{id}/file`` — a recording file was closed on the camera; footage is now expected."""

    name: FileName
    start: UtcDatetime  # device clock
    end: UtcDatetime  # device clock
    size_bytes: Annotated[int, Field(ge=0, le=2**50)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    marked: bool
    officer_no: OfficerNo | None = None  # as stamped by the camera; mapped explicitly by the station

    @model_validator(mode="after")
    def _ordered(self) -> FilePayload:
        if self.end < self.start:
            raise ValueError("end is before start")
        return self


CameraPayload = StatusPayload | TelemetryPayload | FilePayload | AnyEvent
