"""Masking of personal data before it reaches a log or trace (ID masking is the project's own)."""

from __future__ import annotations

from edge.privacy import mask_id_number

__all__ = ["mask_id_number", "mask_secret"]


def mask_secret(value: str | bytes) -> str:
    """Payment codes and scanned data: only the length survives."""
    return f"<{len(value)} chars withheld>"
