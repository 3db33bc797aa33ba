"""Masking of personal data wherever text leaves the process (logs, traces, API errors, dead letters).

Resident ID numbers, phone numbers and card numbers are masked by shape, so a value is masked even
when the code that logged it did not know it was personal. ``mask_value`` is the one entry point for
structured data: log extras, problem documents and dead letters all go through it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# 18-character resident ID (17 digits + digit or X). Lookarounds instead of \b so that IDs glued to
# CJK text or underscores are still caught.
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])")
# Bank card numbers (PAN), 16-19 digits.
_PAN = re.compile(r"(?<![0-9])(\d{4})(\d{8,11})(\d{4})(?![0-9])")
# Mainland mobile numbers.
_MOBILE = re.compile(r"(?<![0-9])(1[3-9]\d)(\d{4})(\d{4})(?![0-9])")


def mask_id_number(value: str) -> str:
    """Mask an ID number keeping the region prefix and the last four characters: 3502**********123X."""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_text(text: str) -> str:
    """Mask every resident ID, card number and mobile number found in free text."""
    text = _RESIDENT_ID.sub(lambda m: mask_id_number(m.group(0)), text)
    text = _PAN.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)
    return _MOBILE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


def mask_value(value: Any) -> Any:
    """Mask every string in ``value``, recursing into mappings (keys too), lists, tuples and sets, and
    bytes (masked by the same shapes in their ASCII digits, length kept). Returns new containers; the
    caller's are never changed. Anything else is returned as it is."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, bytes | bytearray):
        return mask_bytes(bytes(value))
    if isinstance(value, Mapping):
        return {mask_value(k): mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask_value(item) for item in value]
    return value


def mask_bytes(data: bytes) -> bytes:
    """Raw payloads (a dead letter's copy) may not be text; the shapes are ASCII digits either way. Every
    replacement keeps its length, so sizes and offsets in the copy still match the original."""
    return mask_text(data.decode("latin-1")).encode("latin-1")
