"""Logging set-up: JSON lines for machines (default), plain text for people, personal data masked."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

from edge.privacy import mask_text, mask_value

LogFormat = Literal["json", "text"]

# Attributes every LogRecord has; anything else was passed with extra= and is logged as a field.
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class MaskPersonalData(logging.Filter):
    """Masks ID numbers and the like in the formatted message and in extra fields.

    Formatting happens here, once, and only for records that passed the level check, so callers keep
    lazy %-style arguments.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_text(record.getMessage())
        record.args = None
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS:
                # Strings, and dicts/lists of them at any depth; the caller's objects are not changed.
                record.__dict__[key] = mask_value(value)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatException(self, ei: object) -> str:
        return mask_text(super().formatException(ei))  # type: ignore[arg-type]


def configure(fmt: LogFormat = "json", level: str = "INFO") -> None:
    """Install one stderr handler on the root logger (idempotent: replaces handlers we installed)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_station_edge", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(MaskPersonalData())
    handler._station_edge = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Library chatter at INFO is noise in a 24/7 daemon's journal.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
