"""Cheap structural checks that explain *why* a file is damaged, reading only a few headers.

FFmpeg says "Invalid data found" for a truncated MP4, a text file and random bytes alike (its detailed log
is off in PyAV); these checks name the cause. They never decode and never raise.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

_TS_PACKET = 188
_MP4_FIRST_BOXES = {b"ftyp", b"styp", b"moov", b"mdat", b"free", b"skip", b"wide"}
_MAX_TOP_BOXES = 10_000  # fragmented MP4 has two top-level boxes a fragment; beyond this, stop looking


def looks_like_mp4(head: bytes) -> bool:
    return len(head) >= 8 and head[4:8] in _MP4_FIRST_BOXES


def mp4_problems(path: Path, size: int) -> list[str]:
    """Walk the top-level ISO-BMFF boxes: a missing or cut moov/mdat is what truncation looks like."""
    found: set[bytes] = set()
    problems: list[str] = []
    with path.open("rb") as f:
        offset = 0
        for _ in range(_MAX_TOP_BOXES):
            if offset >= size:
                break
            box = _read_box_header(f, offset, size)
            if box is None:
                problems.append(f"truncated: box header cut at byte {offset}")
                break
            kind, box_size = box
            if box_size < 8:
                problems.append(f"corrupt: box at byte {offset} declares size {box_size}")
                break
            found.add(kind)
            if offset + box_size > size:
                name = kind.decode("latin-1")
                problems.append(f"truncated: {name} box needs {box_size} bytes, only {size - offset} present")
                break
            offset += box_size
    fragmented = b"moof" in found
    if b"moov" not in found and not fragmented:
        problems.insert(0, "truncated: moov atom missing")
    return problems


def _read_box_header(f: BinaryIO, offset: int, size: int) -> tuple[bytes, int] | None:
    f.seek(offset)
    head = f.read(8)
    if len(head) < 8:
        return None
    box_size, kind = struct.unpack(">I4s", head)
    if box_size == 1:  # 64-bit size follows the type
        ext = f.read(8)
        if len(ext) < 8:
            return None
        (box_size,) = struct.unpack(">Q", ext)
    elif box_size == 0:  # box runs to the end of the file
        box_size = size - offset
    return kind, box_size


def ts_problems(size: int) -> list[str]:
    """MPEG-TS is a stream of 188-byte packets: a file ending mid-packet was cut."""
    if size % _TS_PACKET:
        return [f"truncated: file ends inside a {_TS_PACKET}-byte TS packet ({size % _TS_PACKET} bytes over)"]
    return []


def sniff_non_media(head: bytes) -> str:
    """Describe content FFmpeg could not open, for the problem list."""
    if not head:
        return "not a media file: empty"
    sample = head[:512]
    printable = sum(32 <= b < 127 or b in b"\t\r\n" for b in sample)
    if printable == len(sample):
        return "not a media file: looks like text"
    return "not a media file: no known container format"
