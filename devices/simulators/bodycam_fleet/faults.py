"""Deliberately off-contract messages, one per reject reason the station must survive."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from edge.bodycam.payloads import CAMERA_TOPICS, Outgoing, parse_camera_topic


class FaultMode(StrEnum):
    INVALID_JSON = "invalid_json"
    SCHEMA_VIOLATION = "schema_violation"
    OVERSIZED = "oversized"
    TOPIC_MISMATCH = "topic_mismatch"
    ABSURD_TIMESTAMP = "absurd_timestamp"
    DUPLICATE = "duplicate"  # a QoS 1 redelivery: the same bytes again


def _rewrite(out: Outgoing, change: dict[str, Any]) -> Outgoing:
    data = json.loads(out.payload)
    data.update(change)
    return Outgoing(out.topic, json.dumps(data, separators=(",", ":")).encode(), out.qos, out.retain)


def apply_fault(mode: FaultMode, out: Outgoing, *, other_device: str) -> list[Outgoing]:
    """The publications that replace ``out`` under ``mode`` (DUPLICATE keeps the original too)."""
    if mode is FaultMode.DUPLICATE:
        return [out, out]
    if mode is FaultMode.INVALID_JSON:
        return [Outgoing(out.topic, out.payload[: len(out.payload) // 2], out.qos, out.retain)]
    if mode is FaultMode.SCHEMA_VIOLATION:
        return [_rewrite(out, {"seq": -1})]
    if mode is FaultMode.TOPIC_MISMATCH:
        return [_rewrite(out, {"device_id": other_device})]
    if mode is FaultMode.ABSURD_TIMESTAMP:
        return [_rewrite(out, {"ts": "2099-01-01T00:00:00Z"})]
    _, channel = parse_camera_topic(out.topic)
    return [_rewrite(out, {"pad": "x" * CAMERA_TOPICS[channel].max_bytes})]
