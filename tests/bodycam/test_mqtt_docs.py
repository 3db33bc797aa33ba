"""docs/mqtt.md and docs/schemas/ must match the code."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from edge.bodycam.payloads import RejectReason, decode, decode_alert, decode_command, schema_name_for_topic
from edge.bodycam.payloads.schemas import render, schema_documents

DOCS = Path(__file__).resolve().parents[2] / "docs"
MQTT_MD = (DOCS / "mqtt.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"```json\n(.*?)```", re.S)
EXAMPLE = re.compile(r"^topic: (\S+)\n```json\n(.*?)```", re.S | re.M)
EXAMPLES = EXAMPLE.findall(MQTT_MD)


def test_every_json_block_names_its_topic() -> None:
    assert len(EXAMPLES) == len(BLOCK.findall(MQTT_MD)) > 0


@pytest.mark.parametrize(("topic", "body"), EXAMPLES, ids=[f"{i}:{t}" for i, (t, _) in enumerate(EXAMPLES)])
def test_example_is_valid(topic: str, body: str) -> None:
    payload = body.encode()
    data = json.loads(payload)
    assert schema_name_for_topic(topic)
    at = datetime.fromisoformat(data["ts"])  # decode checks the clock against the receive time
    if topic.startswith("edge/"):
        decode_alert(topic, payload)
    elif "/cmd/" in topic:
        decode_command(topic, payload, at)
    else:
        decode(topic, payload, at)


def test_every_schema_has_an_example() -> None:
    documented = {schema_name_for_topic(topic) for topic, _ in EXAMPLES}
    assert {name.removesuffix(".v1.json") for name in schema_documents()} == documented


def test_every_reject_reason_is_documented() -> None:
    for reason in RejectReason:
        assert f"`{reason.value}`" in MQTT_MD


def test_schema_files_are_current() -> None:
    expected = {name: render(schema) for name, schema in schema_documents().items()}
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in (DOCS / "schemas").glob("*.json")}
    assert on_disk == expected, "run: python -m edge.bodycam.payloads docs/schemas"
