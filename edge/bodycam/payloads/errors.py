"""Why a received payload was refused; the reason is the dead-letter row's and the counter's label."""

from __future__ import annotations

from enum import StrEnum


class RejectReason(StrEnum):
    INVALID_JSON = "invalid_json"
    SCHEMA_VIOLATION = "schema_violation"
    UNSUPPORTED_VERSION = "unsupported_version"  # valid JSON whose "v" this station does not speak
    OVERSIZED = "oversized"
    TOPIC_MISMATCH = "topic_mismatch"
    UNKNOWN_TOPIC = "unknown_topic"
    BAD_DEVICE_ID = "bad_device_id"
    TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"


class PayloadRejected(Exception):
    """The only exception ``decode`` raises for anything a sender controls."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        # Bounded: detail ends up in logs and dead-letter rows and may quote attacker input.
        self.detail = detail[:300]
