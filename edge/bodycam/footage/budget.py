"""What station-edge itself keeps on disk: footage, partial uploads, thumbnails, the database and its WAL.

The disk watermarks (disk.py) count all of it as one budget: the footage filesystem's own use (which
already holds the database in the default layout, ``{data_dir}/footage`` beside ``{data_dir}/station.db``),
plus the database and WAL when they live on another filesystem, and, with ``footage.disk_budget_gb``, a
cap on the sum of these parts whatever the filesystems hold besides.

Footage bytes come from the database (one SUM per check); thumbnails and partial files from a directory
scan at most once a minute; the database and WAL sizes are two stat calls, fresh on every sample.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

from edge.bodycam.footage.layout import Layout
from edge.metrics import Metrics
from edge.store import Store
from edge.store import footage as rows
from edge.store.vacuum import file_sizes

_SCAN_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class Usage:
    footage: int  # stored footage files (good and quarantined), as the database records them
    partial: int  # uploads and dock copies in progress
    thumbnails: int
    database: int
    wal: int
    database_elsewhere: bool  # the database is not on the footage filesystem

    @property
    def total(self) -> int:
        return self.footage + self.partial + self.thumbnails + self.database + self.wal

    def as_json(self) -> dict[str, object]:
        return {"footage_bytes": self.footage, "partial_bytes": self.partial, "thumbnail_bytes": self.thumbnails,
                "database_bytes": self.database, "wal_bytes": self.wal, "total_bytes": self.total,
                "database_elsewhere": self.database_elsewhere}


class UsageMeter:
    def __init__(self, store: Store, layout: Layout, metrics: Metrics | None = None) -> None:
        self._store = store
        self._layout = layout
        self._footage = 0
        self._partial = 0
        self._thumbnails = 0
        self._scanned_at = float("-inf")
        self._elsewhere = False
        self._gauge = None if metrics is None else metrics.gauge(
            "station_edge_storage_bytes", "Bytes station-edge keeps on disk, by part", ["part"])

    async def refresh(self) -> Usage:
        totals = await self._store.read(rows.totals)
        self._footage = sum(v["bytes"] for state, v in totals.items() if state != "deleted")
        if time.monotonic() - self._scanned_at >= _SCAN_EVERY_S:
            self._partial, self._thumbnails, self._elsewhere = await asyncio.to_thread(self._scan)
            self._scanned_at = time.monotonic()
        usage = self.current()
        if self._gauge is not None:
            for part in ("footage", "partial", "thumbnails", "database", "wal"):
                self._gauge.labels(part).set(getattr(usage, part))
        return usage

    def current(self) -> Usage:
        sizes = file_sizes(self._store.path)
        return Usage(self._footage, self._partial, self._thumbnails, sizes.database, sizes.wal, self._elsewhere)

    def _scan(self) -> tuple[int, int, bool]:
        partial = _bytes_in(self._layout.uploads) + _bytes_in(self._layout.tmp)
        elsewhere = _device(self._store.path.parent) != _device(self._layout.root)
        return partial, _bytes_in(self._layout.thumbs), elsewhere


def _bytes_in(directory: Path) -> int:
    total = 0
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                try:
                    if entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
                except FileNotFoundError:
                    continue  # removed while we looked
    except FileNotFoundError:
        return 0
    return total


def _device(path: Path) -> int | None:
    try:
        return path.stat().st_dev
    except FileNotFoundError:
        return None
