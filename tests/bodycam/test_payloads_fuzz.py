"""decode must answer hostile input with PayloadRejected and nothing else."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.bodycam.payloads import PayloadRejected, decode

NOW = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
TOPICS = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["status", "telemetry", "event", "file", "cmd/time_sync", "x"]).map(lambda c: f"bwc/cam-0001/{c}"),
    st.builds(lambda d, c: f"bwc/{d}/{c}", st.text(max_size=40), st.sampled_from(["telemetry", "event", "file"])),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=30,
)
KEYS = ["v", "device_id", "seq", "msg_id", "ts", "event", "gps", "state", "session", "will", "name", "start", "end"]


def _decode(topic: str, payload: bytes) -> None:
    error: PayloadRejected | None = None
    try:
        decode(topic, payload, NOW, max_skew=timedelta(days=1))
    except PayloadRejected as exc:  # anything else propagates and fails the test
        error = exc
    if error is not None:
        assert len(error.detail) <= 300


@settings(max_examples=150, deadline=None)
@given(TOPICS, st.binary(max_size=3000))
def test_random_bytes(topic: str, payload: bytes) -> None:
    _decode(topic, payload)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["bwc/cam-0001/status", "bwc/cam-0001/telemetry", "bwc/cam-0001/event", "bwc/cam-0001/file"]),
    st.fixed_dictionaries({}, optional=dict.fromkeys(KEYS, JSON_VALUES)),
)
def test_json_shaped_garbage(topic: str, body: dict[str, object]) -> None:
    _decode(topic, json.dumps(body).encode())
