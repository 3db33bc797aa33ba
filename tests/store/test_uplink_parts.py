"""Migration 0007's multipart state on a real database: a plan and its parts, a part refused for an upload
that is not the entry's current one, a new plan replacing the old parts, and the state gone with its entry."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.store import Store, uplink_parts
from edge.store.outbox import FileRef, OutboxEntry, Priority, enqueue
from edge.store.uplink_parts import PartRecord, UploadPlan

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MIB = 1 << 20



async def entry(store: Store) -> int:
    def add(tx):  # type: ignore[no-untyped-def]
        enqueue(tx, OutboxEntry("footage", Priority.ROUTINE, "f1", file=FileRef(Path("/f.mp4"), 11 * MIB, "ab" * 32)))
        return tx.scalar("SELECT id FROM outbox WHERE dedupe_key = 'f1'")
    return await store.write(add)


def test_a_plan_splits_the_file_into_parts() -> None:
    plan = UploadPlan(1, "b", "k", "u", 5 * MIB, 11 * MIB, "ab" * 32)
    assert plan.part_count == 3 and plan.part_span(3) == (10 * MIB, MIB)
    assert UploadPlan(1, "b", "k", "u", 5 * MIB, 0, "ab" * 32).part_count == 1  # an empty file: one empty part
    with pytest.raises(ValueError, match=r"outside 1\.\.3"):
        plan.part_span(4)


async def test_parts_are_kept_per_upload_and_go_with_their_entry(store: Store) -> None:
    entry_id = await entry(store)
    plan = UploadPlan(entry_id, "footage", "k", "upload-1", 5 * MIB, 11 * MIB, "ab" * 32)
    await store.write(lambda tx: uplink_parts.save_plan(tx, plan, now=T0))
    part = PartRecord(1, 5 * MIB, '"etag"', "cd" * 32)
    await store.write(lambda tx: uplink_parts.record_part(tx, entry_id, part, upload_id="upload-1", now=T0))
    assert await store.read(lambda q: uplink_parts.parts_of(q, entry_id)) == [part]
    assert await store.read(lambda q: uplink_parts.plan_of(q, entry_id)) == plan
    with pytest.raises(ValueError, match="has no upload 'upload-0' in progress"):
        await store.write(lambda tx: uplink_parts.record_part(tx, entry_id, part, upload_id="upload-0", now=T0))
    # A new plan (after NoSuchUpload) starts with no parts.
    await store.write(lambda tx: uplink_parts.save_plan(
        tx, UploadPlan(entry_id, "footage", "k", "upload-2", 5 * MIB, 11 * MIB, "ab" * 32), now=T0))
    assert await store.read(lambda q: uplink_parts.parts_of(q, entry_id)) == []
    await store.write(lambda tx: uplink_parts.record_part(tx, entry_id, part, upload_id="upload-2", now=T0))
    await store.write(lambda tx: tx.execute("DELETE FROM outbox WHERE id = ?", (entry_id,)))
    assert await store.read(lambda q: q.scalar("SELECT count(*) FROM uplink_parts")) == 0
    assert await store.read(lambda q: uplink_parts.plan_of(q, entry_id)) is None
