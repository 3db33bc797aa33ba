"""The topic contract: round trips, every reject reason, strictness."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from edge.bodycam.payloads import (
    CAMERA_TOPICS,
    AlertPayload,
    Channel,
    FilePayload,
    GpsFix,
    PayloadRejected,
    RejectReason,
    Sos,
    StatusPayload,
    TelemetryPayload,
    TimeSync,
    camera_subscriptions,
    decode,
    decode_alert,
    decode_command,
    encode_alert,
    encode_camera,
    encode_command,
)

NOW = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
SKEW = timedelta(hours=1)


def env(seq: int = 1, **extra: Any) -> dict[str, Any]:
    return {"v": 1, "device_id": "cam-0001", "seq": seq, "msg_id": f"m{seq}", "ts": NOW, **extra}


def telemetry(**extra: Any) -> TelemetryPayload:
    fields = {
        "gps": GpsFix(lat=22.5, lon=114.05, accuracy_m=4.5, fix_at=NOW),
        "battery_pct": 80,
        "storage_free_mb": 30_000,
        "recording": True,
        "signal_dbm": -85,
    }
    return TelemetryPayload(**env(**extra), **fields)


def raw(**changes: Any) -> bytes:
    data = json.loads(encode_camera(telemetry()).payload)
    data.update(changes)
    return json.dumps(data).encode()


def rejected(topic: str, payload: bytes, received_at: datetime = NOW) -> PayloadRejected:
    with pytest.raises(PayloadRejected) as info:
        decode(topic, payload, received_at, max_skew=SKEW)
    return info.value


def test_telemetry_round_trip_keeps_both_clocks() -> None:
    out = encode_camera(telemetry())
    assert (out.topic, out.qos, out.retain) == ("bwc/cam-0001/telemetry", 1, False)
    later = NOW + timedelta(seconds=2)
    msg = decode(out.topic, out.payload, later, max_skew=SKEW)
    assert msg.channel is Channel.TELEMETRY
    assert msg.payload == telemetry()
    assert (msg.device_time, msg.received_at, msg.seq, msg.msg_id) == (NOW, later, 1, "m1")


def test_every_channel_round_trips() -> None:
    payloads = [
        StatusPayload(**env(), state="online", session=3, serial="BW00001", model="DSJ", fw="1.0"),
        Sos(**env(), event="sos", gps=None),
        FilePayload(
            **env(), name="BW00001_123456_20240601080000_0001.mp4", start=NOW - timedelta(minutes=5),
            end=NOW, size_bytes=10, sha256="a" * 64, marked=True, officer_no="123456",
        ),
    ]  # fmt: skip
    for payload in payloads:
        out = encode_camera(payload)
        assert decode(out.topic, out.payload, NOW, max_skew=SKEW).payload == payload
    assert encode_camera(payloads[0]).retain is True


def test_offsets_accepted_and_normalised_to_utc() -> None:
    msg = decode("bwc/cam-0001/telemetry", raw(ts="2024-06-01T16:00:00+08:00"), NOW, max_skew=SKEW)
    assert msg.device_time == NOW
    assert msg.device_time.utcoffset() == timedelta(0)


def test_invalid_json() -> None:
    assert rejected("bwc/cam-0001/telemetry", b'{"v":1,').reason is RejectReason.INVALID_JSON
    assert rejected("bwc/cam-0001/telemetry", b"\xff\xfe").reason is RejectReason.INVALID_JSON


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"battery_pct": 101}, "battery_pct"),
        ({"battery_pct": "80"}, "battery_pct"),  # strict: no string coercion
        ({"recording": 1}, "recording"),
        ({"storage_free_mb": 1.5}, "storage_free_mb"),
        ({"gps": {"lat": 91, "lon": 0, "accuracy_m": 1, "fix_at": "2024-06-01T08:00:00Z"}}, "gps.lat"),
        ({"ts": "2024-06-01T08:00:00"}, "ts"),  # naive timestamps are refused
        ({"extra": 1}, "extra"),
        ({"seq": -1}, "seq"),
        ({"msg_id": "../x"}, "msg_id"),
    ],
)
def test_schema_violation_names_the_field(changes: dict[str, Any], path: str) -> None:
    err = rejected("bwc/cam-0001/telemetry", raw(**changes))
    assert err.reason is RejectReason.SCHEMA_VIOLATION
    assert err.detail.startswith(path)


def test_schema_violation_missing_field_and_nan() -> None:
    data = json.loads(raw())
    del data["signal_dbm"]
    assert rejected("bwc/cam-0001/telemetry", json.dumps(data).encode()).detail.startswith("signal_dbm")
    nan = raw().replace(b'"lat": 22.5', b'"lat": NaN')
    assert nan != raw()
    assert rejected("bwc/cam-0001/telemetry", nan).reason is RejectReason.SCHEMA_VIOLATION


def test_event_errors_name_the_field_not_the_tag() -> None:
    base = {**env(), "ts": "2024-06-01T08:00:00Z"}
    err = rejected("bwc/cam-0001/event", json.dumps({**base, "event": "case_tag", "case_no": "a b"}).encode())
    assert (err.reason, err.detail.split(":")[0]) == (RejectReason.SCHEMA_VIOLATION, "case_no")
    err = rejected("bwc/cam-0001/event", json.dumps({**base, "event": "explode"}).encode())
    assert err.detail.startswith("event")


def test_missing_version_is_a_schema_violation_other_versions_unsupported() -> None:
    data = json.loads(raw())
    del data["v"]
    assert rejected("bwc/cam-0001/telemetry", json.dumps(data).encode()).detail.startswith("v")
    assert rejected("bwc/cam-0001/telemetry", raw(v=2)).reason is RejectReason.UNSUPPORTED_VERSION


def test_oversized_checked_before_parsing() -> None:
    limit = CAMERA_TOPICS[Channel.TELEMETRY].max_bytes
    assert rejected("bwc/cam-0001/telemetry", b"{" * (limit + 1)).reason is RejectReason.OVERSIZED
    padded = raw(pad="x" * limit)
    assert rejected("bwc/cam-0001/telemetry", padded).reason is RejectReason.OVERSIZED


def test_topic_mismatch_even_when_otherwise_invalid() -> None:
    assert rejected("bwc/cam-0001/telemetry", raw(device_id="cam-0002")).reason is RejectReason.TOPIC_MISMATCH
    bad = raw(device_id="cam-0002", battery_pct=500)
    assert rejected("bwc/cam-0001/telemetry", bad).reason is RejectReason.TOPIC_MISMATCH


@pytest.mark.parametrize(
    "topic",
    ["telemetry", "bwc", "bwc/cam-0001", "bwc/cam-0001/gps", "bwc/cam-0001/cmd/time_sync", "other/cam-0001/file",
     "bwc/cam-0001/telemetry/extra", "bwc/cam-0001/"],
)  # fmt: skip
def test_unknown_topic(topic: str) -> None:
    assert rejected(topic, raw()).reason is RejectReason.UNKNOWN_TOPIC


@pytest.mark.parametrize(
    "device_id",
    ["cam-0001\n", "+", "#", "..", "../etc", "ca", "-cam", "_cam", "cam 1", "cam.0001", "cаm-0001", "x" * 33, ""],
)
def test_bad_device_id(device_id: str) -> None:
    assert rejected(f"bwc/{device_id}/telemetry", raw()).reason is RejectReason.BAD_DEVICE_ID


def test_timestamp_out_of_range_both_ways_and_bound_is_configurable() -> None:
    for skew in (timedelta(hours=2), -timedelta(hours=2)):
        err = rejected("bwc/cam-0001/telemetry", encode_camera(telemetry()).payload, NOW + skew)
        assert err.reason is RejectReason.TIMESTAMP_OUT_OF_RANGE
    payload = encode_camera(telemetry()).payload
    assert decode("bwc/cam-0001/telemetry", payload, NOW + timedelta(hours=2), max_skew=timedelta(hours=3))


def test_last_will_may_be_old_but_not_from_the_future() -> None:
    will = encode_camera(StatusPayload(**env(), state="offline", session=2, will=True))
    assert decode(will.topic, will.payload, NOW + timedelta(days=3), max_skew=SKEW).payload.ts == NOW
    err = rejected(will.topic, will.payload, NOW - timedelta(days=3))
    assert err.reason is RejectReason.TIMESTAMP_OUT_OF_RANGE


def test_status_rules() -> None:
    for bad in (
        {"state": "online", "session": 1, "will": True, "serial": "BW00001"},
        {"state": "online", "session": 1},
    ):
        data = {**env(), "ts": "2024-06-01T08:00:00Z", **bad}
        assert rejected("bwc/cam-0001/status", json.dumps(data).encode()).reason is RejectReason.SCHEMA_VIOLATION


def test_naive_receive_time_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="aware"):
        decode("bwc/cam-0001/telemetry", raw(), NOW.replace(tzinfo=None))


def test_command_round_trip_and_camera_side_checks() -> None:
    cmd = TimeSync(**env(), expires_at=NOW + timedelta(seconds=60), cmd="time_sync", measured_offset_ms=-1500)
    out = encode_command(cmd)
    assert (out.topic, out.qos, out.retain) == ("bwc/cam-0001/cmd/time_sync", 1, False)
    assert decode_command(out.topic, out.payload, NOW) == cmd
    with pytest.raises(PayloadRejected) as info:
        decode_command("bwc/cam-0001/cmd/record_stop", out.payload, NOW)
    assert info.value.reason is RejectReason.TOPIC_MISMATCH
    with pytest.raises(PayloadRejected) as info:
        decode_command("bwc/cam-0001/cmd/self_destruct", out.payload, NOW)
    assert info.value.reason is RejectReason.UNKNOWN_TOPIC
    with pytest.raises(ValueError, match="expires_at"):
        TimeSync(**env(), expires_at=NOW, cmd="time_sync", measured_offset_ms=0)


def test_alert_round_trip() -> None:
    alert = AlertPayload(
        v=1, station_id="st-futian-01", seq=9, msg_id="a9", ts=NOW, key="sos:cam-0001", kind="bodycam.sos",
        state="raised", severity="critical", subject="device:cam-0001", message="SOS from cam-0001",
        details={"device_id": "cam-0001", "officer_no": "123456", "gps": None},
    )  # fmt: skip
    out = encode_alert(alert)
    assert out.topic == "edge/st-futian-01/alerts"
    assert decode_alert(out.topic, out.payload) == alert
    with pytest.raises(PayloadRejected) as info:
        decode_alert("edge/st-other/alerts", out.payload)
    assert info.value.reason is RejectReason.TOPIC_MISMATCH
    with pytest.raises(PayloadRejected) as info:
        decode_alert(out.topic, out.payload.replace(b"bodycam.sos", b"SOS"))
    assert info.value.reason is RejectReason.SCHEMA_VIOLATION


def test_encoder_refuses_to_break_the_contract() -> None:
    big = AlertPayload(
        v=1, station_id="st-1", seq=1, msg_id="a", ts=NOW, key="k" * 200, kind="bodycam.offline",
        state="cleared", severity="info", subject="s" * 200, message="x" * 500,
        details={f"k{i}": "f" * 40 for i in range(32)},
    )  # fmt: skip
    assert encode_alert(big)  # the largest valid alert fits
    status = StatusPayload(**env(), state="online", session=1, serial="BW00001", model="m" * 200, fw="f" * 200)
    assert len(encode_camera(status).payload) <= CAMERA_TOPICS[Channel.STATUS].max_bytes


def test_subscriptions_never_include_commands() -> None:
    assert [t for t, _ in camera_subscriptions()] == [
        "bwc/+/status",
        "bwc/+/telemetry",
        "bwc/+/event",
        "bwc/+/file",
    ]
