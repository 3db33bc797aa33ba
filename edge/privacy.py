"""Masking of personal data wherever text leaves the process (logs, traces, API errors).

Resident ID numbers, phone numbers and card numbers are masked by shape, so a value is masked even
when the code that logged it did not know it was personal.
"""

from __future__ import annotations

import re

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
