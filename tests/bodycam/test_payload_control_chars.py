"""Control characters (NUL, ESC, newline, DEL, C1) in any string field of a camera payload are a schema
violation: in the codec for every string the contract has, and through the real broker to a dead letter."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.bodycam import Station, envelope, online

from edge.bodycam.payloads import PayloadRejected, RejectReason, decode
from edge.bodycam.payloads.schemas import schema_documents
from edge.store import deadletter, expected_footage

NOW = datetime.now(UTC).replace(microsecond=0)
CONTROLS = ["\x00", "\x01", "\x1b", "\n", "\t", "\x7f", "\x85", "\x9f"]


def _gps() -> dict[str, Any]:
    return {"lat": 22.5, "lon": 114.0, "accuracy_m": 4.0, "fix_at": NOW.isoformat()}


def _event(seq: int, kind: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    return "event", {**envelope("cam-0001", seq, ts=NOW), "event": kind, **fields}


# One payload per camera model with every optional string field present (completeness is checked below).
MAXIMAL: list[tuple[str, dict[str, Any]]] = [
    ("status", {**online("cam-0001", 1), "ts": NOW.isoformat()}),
    ("telemetry", {**envelope("cam-0001", 2, ts=NOW), "gps": _gps(), "battery_pct": 80, "storage_free_mb": 100,
                   "recording": True, "signal_dbm": -80}),
    ("file", {**envelope("cam-0001", 3, ts=NOW), "name": "BW00001_1.mp4", "start": NOW.isoformat(),
              "end": NOW.isoformat(), "size_bytes": 10, "sha256": "a" * 64, "marked": False,
              "officer_no": "123456"}),
    _event(4, "record_start"), _event(5, "record_stop"), _event(6, "mark_important", file_name="BW00001_1.mp4"),
    _event(7, "sos", gps=_gps()), _event(8, "sos_clear"),
    _event(9, "case_tag", case_no="INC-0001", file_name="BW00001_1.mp4"),
    _event(10, "docked", dock_id="dock-1"), _event(11, "undocked", dock_id="dock-1"),
]


def _string_leaves(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _string_leaves(item, (*path, key))


def _schema_strings(schema: dict[str, Any], node: dict[str, Any], path: str = "") -> Iterator[str]:
    """Every property path whose schema admits a string (refs, unions and nested objects followed)."""
    if "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    for choice in node.get("anyOf", []) + node.get("oneOf", []):
        yield from _schema_strings(schema, choice, path)
    if node.get("type") == "string" or isinstance(node.get("const"), str):
        yield path
    for key, sub in node.get("properties", {}).items():
        yield from _schema_strings(schema, sub, f"{path}.{key}" if path else key)


def test_the_payloads_below_cover_every_string_field_of_the_contract() -> None:
    covered = {".".join(str(p) for p in path) for _, payload in MAXIMAL for path, _ in _string_leaves(payload)}
    for name in ("bwc.status.v1.json", "bwc.telemetry.v1.json", "bwc.event.v1.json", "bwc.file.v1.json"):
        schema = schema_documents()[name]
        declared = set(_schema_strings(schema, schema))
        assert declared, name
        assert declared <= covered, f"{name}: no test payload carries {sorted(declared - covered)}"


@pytest.mark.parametrize(("channel", "payload"), MAXIMAL, ids=[f"{c}-{p.get('event', '')}" for c, p in MAXIMAL])
def test_a_control_character_in_any_string_field_is_a_schema_violation(channel: str, payload: dict[str, Any]
                                                                       ) -> None:
    topic = f"bwc/cam-0001/{channel}"
    decode(topic, json.dumps(payload).encode(), NOW)  # valid as it is
    for path, value in _string_leaves(payload):
        for char in CONTROLS:
            bad = json.loads(json.dumps(payload))
            target = bad
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value[:1] + char + value[1:]
            with pytest.raises(PayloadRejected) as caught:
                decode(topic, json.dumps(bad).encode(), NOW)
            # A device_id that differs from the topic's is refused as that, before the schema is looked at.
            expected = RejectReason.TOPIC_MISMATCH if path == ("device_id",) else RejectReason.SCHEMA_VIOLATION
            assert caught.value.reason is expected, (path, char, caught.value)


def test_free_text_names_the_control_character_and_the_field() -> None:
    _, status = MAXIMAL[0]
    with pytest.raises(PayloadRejected) as caught:
        decode("bwc/cam-0001/status", json.dumps({**status, "fw": "1.4\x002"}).encode(), NOW)
    assert caught.value.reason is RejectReason.SCHEMA_VIOLATION
    assert caught.value.detail == "fw: Value error, control character U+0000 at position 3"
    assert decode("bwc/cam-0001/status", json.dumps({**status, "fw": "1.4 β-2"}).encode(), NOW)  # text is fine


async def _dead(station: Station, reason: str, count: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(30):
        while len(found := await station.daemon.store.read(lambda q: deadletter.recent(q, reason=reason))) < count:
            await asyncio.sleep(0.05)
    return found


async def test_control_characters_over_the_broker_are_dead_lettered_and_intake_goes_on(station: Station) -> None:
    secret = await station.enrol("cam-0001", "BW00001")
    cam = station.cam("cam-0001", secret)
    cam.start()
    now = datetime.now(UTC)
    status = {**online("cam-0001", 1), "fw": "1.4.2\x00; rm -rf /"}
    file = {**envelope("cam-0001", 2), "name": "BW00001_9.mp4", "start": (now - timedelta(minutes=1)).isoformat(),
            "end": now.isoformat(), "size_bytes": 10, "sha256": "b" * 64, "marked": True, "officer_no": "12345\x1b"}
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/status", status)
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/file", file)
    rows = await _dead(station, "schema_violation", 2)
    assert {r["channel"] for r in rows} == {"bwc/cam-0001/status", "bwc/cam-0001/file"}
    assert any("fw: Value error, control character U+0000" in r["detail"] for r in rows)
    assert await station.daemon.store.read(lambda q: expected_footage.get(q, "cam-0001", "BW00001_9.mp4")) is None
    # The daemon carries on: the same announcement without the control character is taken.
    await asyncio.to_thread(cam.publish, "bwc/cam-0001/file", {**file, "seq": 3, "msg_id": "clean-3",
                                                               "officer_no": "123456"})
    async with asyncio.timeout(30):
        while not await station.daemon.store.read(lambda q: expected_footage.get(q, "cam-0001", "BW00001_9.mp4")):
            await asyncio.sleep(0.05)
    assert station.daemon.link is not None and station.daemon.link.connected
