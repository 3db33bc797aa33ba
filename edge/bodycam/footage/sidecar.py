"""Dock sidecars: what a docked camera says about a recording, in a JSON file next to it (sans-I/O parser).

A camera may write ``<recording name>.json`` beside each recording, with the fields of its MQTT ``file``
announcement (docs/mqtt.md). Only ``marked`` is used (the others, if present, must describe the file):

    {"name": "BW00001_123456_20240601000430_0003.mp4", "marked": true,
     "start": "2024-06-01T00:04:30Z", "end": "2024-06-01T00:12:00Z", "size_bytes": 225000000,
     "sha256": "9f86…"}

Sidecars are never ingested as footage. One that names another file, or whose size or hash is not the
recording's, says nothing about this recording and is ignored (with a log line by the caller).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

SUFFIX = ".json"
MAX_BYTES = 64 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")  # fullmatch: "$" would let a trailing newline through
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # as the MQTT contract refuses them


class BadSidecarError(ValueError):
    """The sidecar cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Sidecar:
    marked: bool
    name: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None

    def matches(self, name: str, size: int, sha256: str | None = None) -> str | None:
        """None if this sidecar describes that recording; otherwise why not."""
        if self.name is not None and self.name != name:
            return f"it names {self.name!r}"
        if self.size_bytes is not None and self.size_bytes != size:
            return f"its size_bytes {self.size_bytes} is not the file's {size}"
        if sha256 is not None and self.sha256 is not None and self.sha256 != sha256:
            return "its sha256 is not the file's"
        return None


def is_sidecar(name: str) -> bool:
    return name.lower().endswith(SUFFIX)


def sidecar_name(recording: str) -> str:
    return recording + SUFFIX


def parse(data: bytes) -> Sidecar:
    if len(data) > MAX_BYTES:
        raise BadSidecarError(f"larger than {MAX_BYTES} bytes")
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadSidecarError(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadSidecarError("not a JSON object")
    marked = body.get("marked", False)
    if not isinstance(marked, bool):
        raise BadSidecarError("'marked' must be true or false")
    name, size, sha = body.get("name"), body.get("size_bytes"), body.get("sha256")
    if name is not None and not isinstance(name, str):
        raise BadSidecarError("'name' must be a string")
    if name is not None and (found := _CONTROL.search(name)):
        raise BadSidecarError(f"'name' contains control character U+{ord(found.group()):04X}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise BadSidecarError("'size_bytes' must be a non-negative integer")
    if sha is not None and (not isinstance(sha, str) or not _SHA256.fullmatch(sha)):
        raise BadSidecarError("'sha256' must be 64 lowercase hex digits")
    return Sidecar(marked, name, size, sha)
