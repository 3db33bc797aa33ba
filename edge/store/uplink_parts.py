"""Durable state of S3 multipart uploads (migration 0007): the plan of each footage entry's upload and the
parts the store has acknowledged. The uplink's S3 target (edge/uplink/targets/s3.py) records each part in
its own durable write before it starts the next, so a SIGKILL loses at most the part in flight."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from edge.store.queries import Queries, Tx
from edge.timeutil import to_iso


@dataclass(frozen=True, slots=True)
class UploadPlan:
    entry_id: int
    bucket: str
    key: str
    upload_id: str
    part_size: int
    file_size: int
    file_sha256: str
    completed: bool = False

    @property
    def part_count(self) -> int:
        """An empty file still goes as one (empty) part: a multipart upload needs at least one."""
        return max(1, -(-self.file_size // self.part_size))

    def part_span(self, number: int) -> tuple[int, int]:
        """(offset, size) of part ``number`` (1-based) in the file."""
        if not 1 <= number <= self.part_count:
            raise ValueError(f"part {number} is outside 1..{self.part_count}")
        offset = (number - 1) * self.part_size
        return offset, min(self.part_size, self.file_size - offset)


@dataclass(frozen=True, slots=True)
class PartRecord:
    number: int
    size: int
    etag: str
    sha256: str


def plan_of(q: Queries, entry_id: int) -> UploadPlan | None:
    row = q.one("SELECT entry_id, bucket, object_key, upload_id, part_size, file_size, file_sha256, completed_at"
                " FROM uplink_uploads WHERE entry_id = ?", (entry_id,))
    if row is None:
        return None
    return UploadPlan(row["entry_id"], row["bucket"], row["object_key"], row["upload_id"], row["part_size"],
                      row["file_size"], row["file_sha256"], row["completed_at"] is not None)


def parts_of(q: Queries, entry_id: int) -> list[PartRecord]:
    return [PartRecord(r["part_number"], r["size"], r["etag"], r["sha256"]) for r in q.iterate(
        "SELECT part_number, size, etag, sha256 FROM uplink_parts WHERE entry_id = ? ORDER BY part_number",
        (entry_id,))]


def save_plan(tx: Tx, plan: UploadPlan, *, now: datetime) -> None:
    """A new multipart upload for the entry; any earlier plan and its parts are replaced."""
    forget(tx, plan.entry_id)
    tx.execute("INSERT INTO uplink_uploads (entry_id, bucket, object_key, upload_id, part_size, file_size,"
               " file_sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               (plan.entry_id, plan.bucket, plan.key, plan.upload_id, plan.part_size, plan.file_size,
                plan.file_sha256, to_iso(now)))


def record_part(tx: Tx, entry_id: int, part: PartRecord, *, upload_id: str, now: datetime) -> None:
    """The store acknowledged a part of the entry's current upload (a re-sent part replaces its record)."""
    if tx.scalar("SELECT upload_id FROM uplink_uploads WHERE entry_id = ?", (entry_id,)) != upload_id:
        raise ValueError(f"outbox entry {entry_id} has no upload {upload_id!r} in progress")
    tx.execute("INSERT OR REPLACE INTO uplink_parts (entry_id, part_number, size, etag, sha256, sent_at)"
               " VALUES (?, ?, ?, ?, ?, ?)", (entry_id, part.number, part.size, part.etag, part.sha256, to_iso(now)))


def drop_parts(tx: Tx, entry_id: int, numbers: list[int]) -> None:
    """Parts that the store does not hold as recorded (missing, another ETag): to be sent again."""
    tx.executemany("DELETE FROM uplink_parts WHERE entry_id = ? AND part_number = ?",
                   ((entry_id, number) for number in numbers))


def mark_completed(tx: Tx, entry_id: int, *, object_etag: str, now: datetime) -> None:
    tx.execute("UPDATE uplink_uploads SET completed_at = ?, object_etag = ? WHERE entry_id = ?",
               (to_iso(now), object_etag, entry_id))


def forget(tx: Tx, entry_id: int) -> None:
    """The store no longer has the upload (purged, aborted, or the file changed): plan again from scratch."""
    tx.execute("DELETE FROM uplink_parts WHERE entry_id = ?", (entry_id,))
    tx.execute("DELETE FROM uplink_uploads WHERE entry_id = ?", (entry_id,))
