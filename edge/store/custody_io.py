"""The custody log read from a database file by the CLI: verify it, or export it as a bundle.

Opens the file read-only, so both work on a running daemon's database. Entries are exported up to
the head seen at the start: the log is append-only, so that prefix cannot change under the export.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.custody import bundle
from edge.custody.chain import Verification
from edge.store import checkpoints, custody
from edge.store.database import connect
from edge.store.queries import Queries
from edge.timeutil import to_iso, utcnow

Progress = Callable[[int, int | None], None]


@dataclass(frozen=True, slots=True)
class ExportSummary:
    entries: int
    checkpoints: int
    size: int


def verify_file(path: Path, *, public_key: str | None, progress: Progress | None = None) -> Verification:
    conn = connect(path, readonly=True)
    try:
        q = Queries(conn)
        head = checkpoints.head(q) if _has_log(q) else None
        total = head.seq if head else None
        return custody.verify(q, public_key=public_key,
                              progress=(lambda done: progress(done, total)) if progress else None)
    finally:
        conn.close()


def _has_log(q: Queries) -> bool:
    return q.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'custody_log'") is not None


def export_file(db: Path, out: Path, *, station: str | None, public_key: str | None,
                progress: Progress | None = None) -> ExportSummary:
    """Write the bundle. Station and key default to what the newest checkpoint names."""
    conn = connect(db, readonly=True)
    try:
        q = Queries(conn)
        if not _has_log(q):
            raise bundle.BundleError(f"{db} has no custody log")
        head = checkpoints.head(q)
        up_to = head.seq if head else 0
        cps = checkpoints.all_checkpoints(q, up_to=up_to)
        newest = cps[-1] if cps else None
        count = q.scalar("SELECT COUNT(*) FROM custody_log WHERE seq <= ?", (up_to,))
        header = bundle.Header(
            station=station or (newest.station if newest else ""), exported_at=to_iso(utcnow()),
            public_key=public_key or (newest.public_key if newest else None), entries=count, checkpoints=len(cps))
        size = bundle.write(out, header, cps, custody.entries(q, up_to=up_to),
                            progress=(lambda done: progress(done, count)) if progress else None)
        return ExportSummary(count, len(cps), size)
    finally:
        conn.close()
