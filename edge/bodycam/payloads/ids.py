"""Identifier formats shared by the MQTT contract, enrolment and the simulator.

Patterns are written without anchors and always applied with ``fullmatch``: Python's ``$`` also matches
before a trailing newline, so ``^…$`` would accept ``"cam-0001\\n"``. Pydantic (Rust regex) gets the
anchored form, where ``$`` means end of text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

# C0 controls (NUL, ESC, newline, ...), DEL and C1 controls: never part of a camera's text, and a risk in logs,
# terminals, CSV exports and C tools downstream. Every free-text string of the contract is ``Text``; every
# other string has a pattern that admits none of them.
NO_CONTROLS_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# Device ids are MQTT topic levels and file-system path parts, so: ASCII only, no "/", "+", "#", ".",
# no leading "-" or "_" (option/hidden-name tricks), and a bounded length.
DEVICE_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{2,31}"
# GA/T 947 device serial: 7 characters.
SERIAL_PATTERN = r"[A-Z0-9]{7}"
# As edge.config accepts for station.id (2-32 characters).
STATION_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{1,31}"
# GA/T 947 officer number (6) and unit (public security organ) number (12).
OFFICER_NO_PATTERN = r"[0-9]{6}"
UNIT_NO_PATTERN = r"[0-9]{12}"
MSG_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
# A file name as the camera wrote it; never a path, never hidden, one dot-separated extension allowed.
FILE_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,119}(\.[A-Za-z0-9]{1,8})?"
CASE_NO_PATTERN = r"[A-Z0-9][A-Z0-9-]{3,39}"
DOCK_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}"

_DEVICE_ID_RE = re.compile(DEVICE_ID_PATTERN)

# JSON numbers beyond 2**53 lose precision in JavaScript consumers of the API.
MAX_SEQ = 2**53 - 1


def is_device_id(value: str) -> bool:
    return _DEVICE_ID_RE.fullmatch(value) is not None


def _anchored(pattern: str) -> str:
    return f"^{pattern}$"


def _no_controls(value: str) -> str:
    found = _CONTROL.search(value)
    if found is not None:
        raise ValueError(f"control character U+{ord(found.group()):04X} at position {found.start()}")
    return value


def _to_utc(value: datetime) -> datetime:
    # Offsets are accepted on the wire (a camera may send +08:00); inside, everything is UTC.
    return value.astimezone(UTC)


DeviceId = Annotated[str, StringConstraints(pattern=_anchored(DEVICE_ID_PATTERN))]
StationId = Annotated[str, StringConstraints(pattern=_anchored(STATION_ID_PATTERN))]
Serial = Annotated[str, StringConstraints(pattern=_anchored(SERIAL_PATTERN))]
OfficerNo = Annotated[str, StringConstraints(pattern=_anchored(OFFICER_NO_PATTERN))]
UnitNo = Annotated[str, StringConstraints(pattern=_anchored(UNIT_NO_PATTERN))]
MsgId = Annotated[str, StringConstraints(pattern=_anchored(MSG_ID_PATTERN))]
FileName = Annotated[str, StringConstraints(pattern=_anchored(FILE_NAME_PATTERN))]
CaseNo = Annotated[str, StringConstraints(pattern=_anchored(CASE_NO_PATTERN))]
DockId = Annotated[str, StringConstraints(pattern=_anchored(DOCK_ID_PATTERN))]
Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
# Free text (a model name, a firmware version): printable only; the pattern documents it in the schemas.
_PRINTABLE = AfterValidator(_no_controls)
_PRINTABLE_SCHEMA = Field(json_schema_extra={"pattern": NO_CONTROLS_PATTERN})
Text = Annotated[str, _PRINTABLE, _PRINTABLE_SCHEMA]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200), _PRINTABLE, _PRINTABLE_SCHEMA]
