"""Whether a footage file may be deleted now (SQL only; the deleting job is edge/bodycam/footage/retention.py).

One list of keep reasons, each a SQL condition on the footage row ``f``. The selection query keeps the
rows for which none holds; the re-check inside the deleting transaction evaluates the same conditions for
one row and names those that hold. Both are built from ``KEEP_REASONS``, so they cannot drift apart.

Files are stored by content hash, so several rows may name the same path (a tombstone and the row of the
same bytes ingested again). A path is "in use" while any row that is not deleted names it, as its file or
its thumbnail; such a file is never removed, whichever tombstone points at it.
"""

from __future__ import annotations

from typing import Any

from edge.store.queries import Queries

_ID = "CAST(f.id AS TEXT)"  # case and announcement tables keep footage ids as decimal text

# (name, condition that keeps the file). Order is the order reasons are reported in.
KEEP_REASONS: tuple[tuple[str, str], ...] = (
    ("not_good", "f.state != 'good'"),
    ("marked", "f.marked != 0"),
    ("held", "f.hold != 0"),  # supervisor, SOS or marked announcement, case hook
    ("announced_hold", "EXISTS (SELECT 1 FROM expected_footage e WHERE e.footage_id = " + _ID
     + " AND e.hold_reason IS NOT NULL AND e.hold_reason != '')"),  # marked or SOS-covered, also set later
    ("case_link", "EXISTS (SELECT 1 FROM case_links c WHERE c.footage_id = " + _ID
     + " AND c.state IN ('linked', 'review'))"),
    # Through the file's links: review_items_one_open (link_id, state 'open') finds the item at once.
    ("open_review", "EXISTS (SELECT 1 FROM case_links l JOIN review_items r ON r.link_id = l.id AND r.state = 'open'"
     " WHERE l.footage_id = " + _ID + ")"),
    ("not_expired", "f.retain_until IS NULL OR f.retain_until >= :now"),
    # Confirmed: the central platform's receipt for these bytes, recorded after this row was ingested (a
    # receipt from before confirms an older row of the same bytes, not this one).
    ("not_confirmed", "NOT EXISTS (SELECT 1 FROM outbox o WHERE o.dedupe_key = 'footage:' || f.sha256"
     " AND o.state = 'confirmed' AND o.receipt IS NOT NULL AND o.receipt != '' AND o.updated_at >= f.ingested_at)"),
    ("path_in_use", "EXISTS (SELECT 1 FROM footage g WHERE g.id != f.id AND g.state != 'deleted'"
     " AND (g.path = f.path OR g.thumbnail = f.path))"),
)

_ANY_KEEP = " OR ".join(f"({condition})" for _, condition in KEEP_REASONS)
_REASON_COLUMNS = ", ".join(f"({condition}) AS {name}" for name, condition in KEEP_REASONS)


def candidates(q: Queries, now: str, limit: int = 500) -> list[dict[str, Any]]:
    """Rows that may be deleted now, oldest retention first (re-checked with ``keep_reasons`` before deletion)."""
    return q.all(
        # The first terms repeat keep reasons so that the footage_retention index narrows the scan.
        "SELECT f.* FROM footage f WHERE f.state = 'good' AND f.hold = 0 AND f.marked = 0"
        " AND f.retain_until IS NOT NULL AND f.retain_until < :now"
        f" AND NOT ({_ANY_KEEP}) ORDER BY f.retain_until LIMIT :limit",
        {"now": now, "limit": limit},
    )


def keep_reasons(q: Queries, footage_id: int, now: str) -> list[str]:
    """Why this file must be kept now (empty: it may be deleted). ['missing'] for an unknown id."""
    row = q.one(f"SELECT {_REASON_COLUMNS} FROM footage f WHERE f.id = :id", {"id": footage_id, "now": now})
    if row is None:
        return ["missing"]
    return [name for name, _ in KEEP_REASONS if row[name]]


def path_in_use(q: Queries, rel: str) -> bool:
    """Whether a row that is not deleted names ``rel`` as its file or thumbnail."""
    return bool(q.scalar("SELECT 1 FROM footage WHERE state != 'deleted' AND (path = ? OR thumbnail = ?) LIMIT 1",
                         (rel, rel)))


def tombstones(q: Queries) -> list[dict[str, Any]]:
    """Deleted rows (reconciliation finishes their file removal when no live row names the path)."""
    return q.all("SELECT id, sha256, path, thumbnail FROM footage WHERE state = 'deleted' ORDER BY id")
