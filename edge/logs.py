"""Logging set-up: JSON lines for machines (default), plain text for people, personal data masked."""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from types import TracebackType
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
    _route_uncaught_exceptions()
    # Library chatter at INFO is noise in a 24/7 daemon's journal.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def _route_uncaught_exceptions() -> None:
    """A traceback nobody caught (the main thread's, a thread's) would reach stderr unmasked through
    Python's default hooks; these send it through the masking handler instead."""
    uncaught = logging.getLogger("edge.uncaught")

    def main_hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        uncaught.critical("uncaught exception", exc_info=(kind, exc, tb))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        name = args.thread.name if args.thread is not None else "?"
        uncaught.critical("uncaught exception in thread %s", name,
                          exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    sys.excepthook = main_hook
    threading.excepthook = thread_hook
