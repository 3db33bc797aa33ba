"""JSON Schemas of every payload, generated from the models (docs/schemas/ is written from here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from edge.bodycam.payloads.camera import EventPayload, FilePayload, StatusPayload, TelemetryPayload
from edge.bodycam.payloads.ids import is_device_id
from edge.bodycam.payloads.station import (
    AlertPayload,
    RecordStartCmd,
    RecordStopCmd,
    RequestUpload,
    StartLive,
    TimeSync,
)

_SOURCES: dict[str, Any] = {
    "bwc.status": StatusPayload,
    "bwc.telemetry": TelemetryPayload,
    "bwc.event": EventPayload,
    "bwc.file": FilePayload,
    "bwc.cmd.time_sync": TimeSync,
    "bwc.cmd.record_start": RecordStartCmd,
    "bwc.cmd.record_stop": RecordStopCmd,
    "bwc.cmd.request_upload": RequestUpload,
    "bwc.cmd.start_live": StartLive,
    "edge.alerts": AlertPayload,
}
VERSION = 1


def schema_name_for_topic(topic: str) -> str:
    """``bwc/cam-0001/telemetry`` → ``bwc.telemetry``; ``edge/st-1/alerts`` → ``edge.alerts``."""
    levels = topic.split("/")
    if len(levels) >= 3 and is_device_id(levels[1]):
        name = ".".join([levels[0], *levels[2:]])
        if name in _SOURCES:
            return name
    raise KeyError(f"no schema for topic {topic!r}")


def schema_documents() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema (draft 2020-12, as pydantic emits)."""
    docs: dict[str, dict[str, Any]] = {}
    for name, source in _SOURCES.items():
        schema = TypeAdapter(source).json_schema(mode="validation")
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"station-edge/{name}.v{VERSION}.json",
            **schema,
        }
        docs[f"{name}.v{VERSION}.json"] = schema
    return docs


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    """Write every schema into ``directory`` (created if missing); returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, schema in schema_documents().items():
        path = directory / file_name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written
