"""Where footage lives under the footage root, and the file operations that make a file safe.

    uploads/{ingest}.part   uploads in progress (appended in order; the durable offset is in the database)
    tmp/{ingest}.part       dock copies in progress (redone from the source after a crash)
    files/ab/{sha256}.ext   committed footage, read-only, named by content (so duplicates cannot collide)
    quarantine/{ingest}-{sha256}.ext   uploads whose hash did not match what the sender declared
    thumbs/{sha256}.jpg     keyframe thumbnails (derived; can be made again)
    manifests/{device}.json per-device list of files a docked camera may erase

A file is safe only after: write to a temporary name, fsync it, make it read-only, move it into place,
fsync both directories. The database row comes after that.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

CHUNK = 1 << 20
READ_ONLY = 0o444


class Layout:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.uploads = root / "uploads"
        self.tmp = root / "tmp"
        self.files = root / "files"
        self.quarantine = root / "quarantine"
        self.thumbs = root / "thumbs"
        self.manifests = root / "manifests"

    def ensure(self) -> None:
        for directory in (self.uploads, self.tmp, self.files, self.quarantine, self.thumbs, self.manifests):
            directory.mkdir(parents=True, exist_ok=True)

    def upload_part(self, ingest_id: str) -> Path:
        return self.uploads / f"{ingest_id}.part"

    def dock_part(self, ingest_id: str) -> Path:
        return self.tmp / f"{ingest_id}.part"

    @staticmethod
    def good_rel(sha256: str, ext: str) -> str:
        return f"files/{sha256[:2]}/{sha256}{ext}"

    @staticmethod
    def quarantine_rel(ingest_id: str, sha256: str, ext: str) -> str:
        return f"quarantine/{ingest_id}-{sha256}{ext}"

    @staticmethod
    def thumb_rel(sha256: str) -> str:
        return f"thumbs/{sha256}.jpg"

    def path(self, rel: str) -> Path:
        resolved = (self.root / rel).resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise ValueError(f"path {rel!r} leaves the footage root")
        return resolved


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def seal(src: Path, dest: Path) -> None:
    """Make ``src`` read-only and move it to ``dest`` durably; never replaces an existing file.

    A hard link then an unlink (not rename) so that an existing ``dest`` raises FileExistsError instead of
    being silently overwritten: committed footage is never replaced.
    """
    src.chmod(READ_ONLY)
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.link(src, dest)
    fsync_dir(dest.parent)
    src.unlink()
    fsync_dir(src.parent)


def sha256_file(path: Path, limit: int | None = None) -> str:
    """SHA-256 of a file (or of its first ``limit`` bytes), read in large chunks (OpenSSL releases the GIL)."""
    digest = hashlib.sha256()
    remaining = limit
    with path.open("rb", buffering=0) as f:
        while remaining is None or remaining > 0:
            block = f.read(CHUNK if remaining is None else min(CHUNK, remaining))
            if not block:
                break
            digest.update(block)
            if remaining is not None:
                remaining -= len(block)
    return digest.hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    fsync_dir(path.parent)
