"""Bytes ↔ models for the MQTT contract. Pure: no I/O, no clock reads, no paho."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from edge.bodycam.payloads.camera import (
    EVENT_KINDS,
    AnyEvent,
    CameraPayload,
    EventPayload,
    FilePayload,
    StatusPayload,
    TelemetryPayload,
)
from edge.bodycam.payloads.errors import PayloadRejected, RejectReason
from edge.bodycam.payloads.station import COMMAND_NAMES, AlertPayload, AnyCommand, CommandPayload
from edge.bodycam.payloads.topics import (
    ALERT_SPEC,
    CAMERA_TOPICS,
    COMMAND_SPEC,
    Channel,
    TopicSpec,
    alert_topic,
    camera_topic,
    command_topic,
    parse_camera_topic,
    parse_command_topic,
)

DEFAULT_MAX_SKEW = timedelta(hours=24)

_STATUS = TypeAdapter(StatusPayload)
_TELEMETRY = TypeAdapter(TelemetryPayload)
_EVENT: TypeAdapter[AnyEvent] = TypeAdapter(EventPayload)
_FILE = TypeAdapter(FilePayload)
_COMMAND: TypeAdapter[AnyCommand] = TypeAdapter(CommandPayload)


@dataclass(frozen=True, slots=True)
class CameraMessage:
    """A validated camera publication with the gateway's receive time kept beside the device's."""

    channel: Channel
    payload: CameraPayload
    received_at: datetime
    size: int

    @property
    def device_id(self) -> str:
        return self.payload.device_id

    @property
    def seq(self) -> int:
        return self.payload.seq

    @property
    def msg_id(self) -> str:
        return self.payload.msg_id

    @property
    def device_time(self) -> datetime:
        return self.payload.ts


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One MQTT publication, ready for the transport."""

    topic: str
    payload: bytes
    qos: int
    retain: bool


def _validate(channel: Channel, data: bytes) -> CameraPayload:
    if channel is Channel.TELEMETRY:
        return _TELEMETRY.validate_json(data)
    if channel is Channel.STATUS:
        return _STATUS.validate_json(data)
    if channel is Channel.EVENT:
        return _EVENT.validate_json(data)
    return _FILE.validate_json(data)


def _field_path(loc: tuple[int | str, ...], error_type: str, tags: tuple[str, ...], tag_field: str) -> str:
    # Drop the discriminator value pydantic puts first for tagged unions ("sos", "gps", "lat").
    parts = list(loc[1:] if loc and loc[0] in tags else loc)
    if not parts and error_type.startswith("union_tag"):
        return tag_field
    return ".".join(str(p) for p in parts) or "(root)"


def _loads(data: bytes) -> Any:
    # Error path only: pydantic already found the JSON well-formed (jiter caps depth at 200).
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def _reject_invalid(
    exc: ValidationError,
    data: bytes,
    sender: str,
    sender_field: str,
    tags: tuple[str, ...] = (),
    tag_field: str = "",
) -> PayloadRejected:
    errors = exc.errors(include_url=False, include_input=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return PayloadRejected(RejectReason.INVALID_JSON, errors[0]["msg"])
    raw = _loads(data)
    if isinstance(raw, dict):
        claimed = raw.get(sender_field)
        if isinstance(claimed, str) and claimed != sender:
            return PayloadRejected(RejectReason.TOPIC_MISMATCH, f"{sender_field} {claimed[:40]!a}")
        if "v" in raw and raw["v"] != 1:
            return PayloadRejected(RejectReason.UNSUPPORTED_VERSION, f"v={str(raw['v'])[:20]!a}")
    first = errors[0]
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return PayloadRejected(
        RejectReason.SCHEMA_VIOLATION,
        f"{_field_path(first['loc'], first['type'], tags, tag_field)}: {first['msg']}{more}",
    )


def _check_size(data: bytes, spec: TopicSpec) -> None:
    if len(data) > spec.max_bytes:
        raise PayloadRejected(RejectReason.OVERSIZED, f"{len(data)} bytes > {spec.max_bytes}")


def _check_skew(ts: datetime, received_at: datetime, max_skew: timedelta, *, past_ok: bool) -> None:
    skew = ts - received_at
    if skew > max_skew or (skew < -max_skew and not past_ok):
        raise PayloadRejected(RejectReason.TIMESTAMP_OUT_OF_RANGE, f"ts {ts.isoformat()} is {skew} from receive time")


def _require_aware(received_at: datetime) -> None:
    if received_at.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")  # a caller bug, not a sender's


def decode(
    topic: str, payload: bytes, received_at: datetime, *, max_skew: timedelta = DEFAULT_MAX_SKEW
) -> CameraMessage:
    """Validate one camera publication; raises only PayloadRejected for bad input.

    Checks run cheapest and most telling first: topic, size, JSON and schema (with the claimed sender
    compared to the topic's), then the device clock against ``received_at``.
    """
    _require_aware(received_at)
    device_id, channel = parse_camera_topic(topic)
    _check_size(payload, CAMERA_TOPICS[channel])
    try:
        model = _validate(channel, payload)
    except ValidationError as exc:
        tags = EVENT_KINDS if channel is Channel.EVENT else ()
        raise _reject_invalid(exc, payload, device_id, "device_id", tags, "event") from None
    if model.device_id != device_id:
        raise PayloadRejected(RejectReason.TOPIC_MISMATCH, f"device_id {model.device_id!r} on {topic!r}")
    # A last will is composed when the connection opens and may be delivered hours later.
    is_will = isinstance(model, StatusPayload) and model.will
    _check_skew(model.ts, received_at, max_skew, past_ok=is_will)
    return CameraMessage(channel=channel, payload=model, received_at=received_at, size=len(payload))


def decode_command(
    topic: str, payload: bytes, received_at: datetime, *, max_skew: timedelta = DEFAULT_MAX_SKEW
) -> AnyCommand:
    """The camera side of ``bwc/{id}/cmd/{cmd}`` (used by the simulator and camera firmware tests)."""
    _require_aware(received_at)
    device_id, cmd = parse_command_topic(topic)
    if cmd not in COMMAND_NAMES:
        raise PayloadRejected(RejectReason.UNKNOWN_TOPIC, f"unknown command: {cmd[:40]!a}")
    _check_size(payload, COMMAND_SPEC)
    try:
        model = _COMMAND.validate_json(payload)
    except ValidationError as exc:
        raise _reject_invalid(exc, payload, device_id, "device_id", COMMAND_NAMES, "cmd") from None
    if model.device_id != device_id or model.cmd != cmd:
        raise PayloadRejected(RejectReason.TOPIC_MISMATCH, f"{model.device_id}/{model.cmd} on {topic!r}")
    _check_skew(model.ts, received_at, max_skew, past_ok=False)
    return model


def decode_alert(topic: str, payload: bytes) -> AlertPayload:
    """Parse a station alert (dashboards, tests). No clock check: alerts are replayed from the outbox."""
    levels = topic.split("/")
    if len(levels) != 3 or levels[0] != "edge" or levels[2] != "alerts":
        raise PayloadRejected(RejectReason.UNKNOWN_TOPIC, f"not an alert topic: {topic[:80]!a}")
    _check_size(payload, ALERT_SPEC)
    try:
        model = AlertPayload.model_validate_json(payload)
    except ValidationError as exc:
        raise _reject_invalid(exc, payload, levels[1], "station_id") from None
    if model.station_id != levels[1]:
        raise PayloadRejected(RejectReason.TOPIC_MISMATCH, f"station_id {model.station_id!r} on {topic!r}")
    return model


def channel_of(payload: CameraPayload) -> Channel:
    if isinstance(payload, TelemetryPayload):
        return Channel.TELEMETRY
    if isinstance(payload, StatusPayload):
        return Channel.STATUS
    if isinstance(payload, FilePayload):
        return Channel.FILE
    return Channel.EVENT


def _encoded(topic: str, model: Any, spec: TopicSpec) -> Outgoing:
    data: bytes = model.model_dump_json().encode()
    if len(data) > spec.max_bytes:
        # Our own output breaking the contract is a bug: fail loudly at the source.
        raise ValueError(f"{topic}: encoded payload of {len(data)} bytes exceeds {spec.max_bytes}")
    return Outgoing(topic=topic, payload=data, qos=spec.qos, retain=spec.retain)


def encode_camera(payload: CameraPayload) -> Outgoing:
    """A camera's publication (simulator, camera firmware tests). The last will uses this too."""
    channel = channel_of(payload)
    return _encoded(camera_topic(payload.device_id, channel), payload, CAMERA_TOPICS[channel])


def encode_command(command: AnyCommand) -> Outgoing:
    return _encoded(command_topic(command.device_id, command.cmd), command, COMMAND_SPEC)


def encode_alert(alert: AlertPayload) -> Outgoing:
    return _encoded(alert_topic(alert.station_id), alert, ALERT_SPEC)
