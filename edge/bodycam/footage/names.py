"""Validation of names that come from devices: file names and device ids never become paths by accident.

Files are stored under their content hash, so a camera's file name is only metadata; it is still refused
when it could be read as a path anywhere else (manifests, exports, a technician's shell).
"""

from __future__ import annotations

import re

MAX_NAME = 255
# Applied with fullmatch: "$" would also match before a trailing newline ("cam-0001\n").
_DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# C0 controls, DEL and C1 controls, as the MQTT contract refuses them (edge/bodycam/payloads/ids.py).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Extensions kept on stored files so that tools (and browsers) recognise them; anything else is .bin.
_MEDIA_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".ts", ".mts", ".mkv", ".avi", ".h264", ".h265",
                               ".hevc", ".aac", ".wav", ".mp3", ".jpg", ".jpeg", ".png"})


class BadNameError(ValueError):
    """The name cannot be accepted; the message says why."""


def check_file_name(name: str) -> str:
    """Return ``name`` if it is a plain file name; raise BadNameError naming the problem otherwise."""
    if not name:
        raise BadNameError("file name is empty")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME:
        raise BadNameError(f"file name longer than {MAX_NAME} bytes")
    if "\x00" in name:
        raise BadNameError("file name contains a NUL byte")
    if _CONTROL.search(name):
        raise BadNameError("file name contains control characters")
    if "/" in name or "\\" in name:
        raise BadNameError("file name contains a path separator ('/' or '\\'); send the bare name")
    if name in (".", "..") or name.startswith(".."):
        raise BadNameError("file name may not be '.' or start with '..'")
    if re.match(r"^[A-Za-z]:", name):
        raise BadNameError("file name looks like a drive path")
    return name


def check_device_id(device_id: str) -> str:
    if not _DEVICE_ID.fullmatch(device_id):
        raise BadNameError("device id must be 1-64 letters, digits, '.', '_' or '-' (not starting with those)")
    return device_id


def check_printable(what: str, value: str) -> str:
    """Return ``value`` if it has no control character; raise BadNameError naming the first one otherwise."""
    found = _CONTROL.search(value)
    if found is not None:
        raise BadNameError(f"{what} contains control character U+{ord(found.group()):04X} at position "
                           f"{found.start()}")
    return value


def extension(name: str) -> str:
    dot = name.rfind(".")
    ext = name[dot:].lower() if dot > 0 else ""
    return ext if ext in _MEDIA_EXTENSIONS else ".bin"
