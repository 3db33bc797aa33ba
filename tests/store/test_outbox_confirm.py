"""Central receipts for footage files: outbox.confirm checks the receipt against the file before acking."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.store import Store
from edge.store.outbox import FileRef, OutboxEntry, Priority, Receipt, ReceiptRefused, confirm, enqueue, rearm_file

SHA = "ab" * 32


@pytest.fixture
async def store(tmp_path: Path):
    store = Store(tmp_path / "s.db")
    await store.open()
    file_entry = OutboxEntry("footage.file", Priority.ROUTINE, f"footage:{SHA}",
                             file=FileRef(tmp_path / "f.mp4", 10, SHA))
    payload_entry = OutboxEntry("case.link", Priority.EVIDENCE, "case-link:1", payload={"v": 1})
    await store.write(lambda tx: (enqueue(tx, file_entry), enqueue(tx, payload_entry)))
    yield store
    await store.close()


async def _row(store: Store) -> dict:
    row = await store.read(lambda q: q.one("SELECT state, receipt FROM outbox WHERE dedupe_key = ?",
                                           (f"footage:{SHA}",)))
    assert row is not None
    return row


@pytest.mark.parametrize(("key", "receipt", "problem"), [
    ("footage:" + "cd" * 32, Receipt(SHA, "obj-1", "2026-01-01T00:00:00Z"), "no outbox entry"),
    ("case-link:1", Receipt(SHA, "obj-1", "2026-01-01T00:00:00Z"), "carries no file"),
    (f"footage:{SHA}", Receipt("cd" * 32, "obj-1", "2026-01-01T00:00:00Z"), "is not the file's"),
    (f"footage:{SHA}", Receipt("not-a-hash", "obj-1", "2026-01-01T00:00:00Z"), "not 64 hex digits"),
    (f"footage:{SHA}", Receipt(SHA, " ", "2026-01-01T00:00:00Z"), "reference and time"),
    (f"footage:{SHA}", Receipt(SHA, "obj-1", ""), "reference and time"),
])
async def test_a_receipt_that_does_not_match_confirms_nothing(store: Store, key: str, receipt: Receipt,
                                                              problem: str) -> None:
    with pytest.raises(ReceiptRefused, match=problem):
        await store.write(lambda tx: confirm(tx, key, receipt))
    assert (await _row(store)) == {"state": "pending", "receipt": None}


async def test_a_matching_receipt_acks_once_and_keeps_the_first(store: Store, tmp_path: Path) -> None:
    first = Receipt(SHA.upper(), "obj-1", "2026-01-01T00:00:00Z")  # hex case does not matter
    assert await store.write(lambda tx: confirm(tx, f"footage:{SHA}", first)) is True
    again = Receipt(SHA, "obj-2", "2026-01-02T00:00:00Z")
    assert await store.write(lambda tx: confirm(tx, f"footage:{SHA}", again)) is False
    row = await _row(store)
    assert row["state"] == "confirmed" and '"reference":"obj-1"' in row["receipt"] and SHA in row["receipt"]
    # The same bytes ingested again after a deletion: the entry is queued again and the receipt dropped.
    entry = OutboxEntry("footage.file", Priority.EVIDENCE, f"footage:{SHA}", file=FileRef(tmp_path / "f.mp4", 10, SHA))
    assert await store.write(lambda tx: rearm_file(tx, entry)) is True
    assert await _row(store) == {"state": "pending", "receipt": None}
    assert await store.write(lambda tx: rearm_file(tx, entry)) is False  # only a confirmed entry is re-armed
