"""Topic names, QoS, retain flags and size limits: the contract table in one place."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from edge.bodycam.payloads.errors import PayloadRejected, RejectReason
from edge.bodycam.payloads.ids import is_device_id

CAMERA_PREFIX = "bwc"
STATION_PREFIX = "edge"


class Channel(StrEnum):
    """The last topic level of a camera's own publications."""

    STATUS = "status"
    TELEMETRY = "telemetry"
    EVENT = "event"
    FILE = "file"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    qos: int
    retain: bool
    max_bytes: int


# Limits are several times the largest valid payload (see docs/mqtt.md) yet small enough that a
# hostile client cannot make the station parse megabytes.
CAMERA_TOPICS: dict[Channel, TopicSpec] = {
    Channel.STATUS: TopicSpec(qos=1, retain=True, max_bytes=1024),
    Channel.TELEMETRY: TopicSpec(qos=1, retain=False, max_bytes=1024),
    Channel.EVENT: TopicSpec(qos=1, retain=False, max_bytes=2048),
    Channel.FILE: TopicSpec(qos=1, retain=False, max_bytes=2048),
}
# Commands are never retained: a retained "record_start" would fire again on every reconnect.
COMMAND_SPEC = TopicSpec(qos=1, retain=False, max_bytes=2048)
ALERT_SPEC = TopicSpec(qos=1, retain=False, max_bytes=4096)


def camera_topic(device_id: str, channel: Channel) -> str:
    return f"{CAMERA_PREFIX}/{device_id}/{channel.value}"


def command_topic(device_id: str, cmd: str) -> str:
    return f"{CAMERA_PREFIX}/{device_id}/cmd/{cmd}"


def alert_topic(station_id: str) -> str:
    return f"{STATION_PREFIX}/{station_id}/alerts"


def camera_subscriptions() -> list[tuple[str, int]]:
    """What the station subscribes to (never ``bwc/#``, which would echo its own commands)."""
    return [(f"{CAMERA_PREFIX}/+/{channel.value}", spec.qos) for channel, spec in CAMERA_TOPICS.items()]


def _safe(text: str) -> str:
    return ascii(text[:80])


def parse_camera_topic(topic: str) -> tuple[str, Channel]:
    """``bwc/{device_id}/{channel}`` → (device_id, channel), or PayloadRejected."""
    levels = topic.split("/")
    if len(levels) < 2 or levels[0] != CAMERA_PREFIX:
        raise PayloadRejected(RejectReason.UNKNOWN_TOPIC, f"not a camera topic: {_safe(topic)}")
    if not is_device_id(levels[1]):
        raise PayloadRejected(RejectReason.BAD_DEVICE_ID, f"device id in topic: {_safe(levels[1])}")
    if len(levels) != 3:
        raise PayloadRejected(RejectReason.UNKNOWN_TOPIC, f"unexpected topic levels: {_safe(topic)}")
    try:
        channel = Channel(levels[2])
    except ValueError:
        raise PayloadRejected(RejectReason.UNKNOWN_TOPIC, f"unknown channel: {_safe(levels[2])}") from None
    return levels[1], channel


def parse_command_topic(topic: str) -> tuple[str, str]:
    """``bwc/{device_id}/cmd/{cmd}`` → (device_id, cmd name), or PayloadRejected (camera side)."""
    levels = topic.split("/")
    if len(levels) != 4 or levels[0] != CAMERA_PREFIX or levels[2] != "cmd":
        raise PayloadRejected(RejectReason.UNKNOWN_TOPIC, f"not a command topic: {_safe(topic)}")
    if not is_device_id(levels[1]):
        raise PayloadRejected(RejectReason.BAD_DEVICE_ID, f"device id in topic: {_safe(levels[1])}")
    return levels[1], levels[3]
