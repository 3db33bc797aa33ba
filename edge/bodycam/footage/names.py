"""Validation of names that come from devices: file names and device ids never become paths by accident.

Files are stored under their content hash, so a camera's file name is only metadata; it is still refused
when it could be read as a path anywhere else (manifests, exports, a technician's shell).
"""

from __future__ import annotations

import re

MAX_NAME = 255
_DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
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
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise BadNameError("file name contains control characters")
    if "/" in name or "\\" in name:
        raise BadNameError("file name contains a path separator ('/' or '\\'); send the bare name")
    if name in (".", "..") or name.startswith(".."):
        raise BadNameError("file name may not be '.' or start with '..'")
    if re.match(r"^[A-Za-z]:", name):
        raise BadNameError("file name looks like a drive path")
    return name


def check_device_id(device_id: str) -> str:
    if not _DEVICE_ID.match(device_id):
        raise BadNameError("device id must be 1-64 letters, digits, '.', '_' or '-' (not starting with those)")
    return device_id


def extension(name: str) -> str:
    dot = name.rfind(".")
    ext = name[dot:].lower() if dot > 0 else ""
    return ext if ext in _MEDIA_EXTENSIONS else ".bin"
