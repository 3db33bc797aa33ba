"""The uplink's queue on a real migrated database: claim order, the state machine and its refusals, backoff,
expiry (never for evidence), idempotency keys, per-class stats, and lease recovery after a real SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.store import Store, StoreError, uplink_queue
from edge.store.outbox import FileRef, OutboxEntry, Priority, Receipt, confirm, enqueue, promote, rearm_file
from edge.store.uplink_queue import EntryState, TrafficClass, TransitionRefused

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SHA = "ab" * 32



async def put(store: Store, *entries: OutboxEntry, at: datetime = T0) -> None:
    await store.write(lambda tx: [enqueue(tx, e, now=at) for e in entries])


def payload(key: str, priority: Priority = Priority.ROUTINE, kind: str = "alert") -> OutboxEntry:
    return OutboxEntry(kind, priority, key, payload={"key": key})


async def state_of(store: Store, key: str) -> dict[str, object]:
    row = await store.read(lambda q: q.one("SELECT * FROM outbox WHERE dedupe_key = ?", (key,)))
    assert row is not None
    return row


async def claim(store: Store, klass: TrafficClass, *, owner: str = "drain-1", at: datetime = T0, limit: int = 10,
                max_bytes: int | None = None) -> list[uplink_queue.ClaimedEntry]:
    return await store.write(lambda tx: uplink_queue.claim(tx, klass, owner=owner, station_id="st-1", now=at,
                                                           limit=limit, max_bytes=max_bytes))


async def test_each_priority_lands_in_its_class_and_claims_take_the_oldest_of_one_class(store: Store) -> None:
    await put(store, payload("sos", Priority.CRITICAL), payload("link", Priority.EVIDENCE),
              payload("kiosk", Priority.ROUTINE, kind="kiosk.session"), payload("warn-1"), payload("warn-2"),
              payload("gps", Priority.BULK))
    classes = await store.read(lambda q: {r["dedupe_key"]: r["uplink_class"]
                                          for r in q.all("SELECT dedupe_key, uplink_class FROM outbox")})
    assert classes == {"sos": "critical", "link": "evidence", "kiosk": "kiosk", "warn-1": "routine",
                       "warn-2": "routine", "gps": "telemetry"}
    claimed = await claim(store, TrafficClass.ROUTINE, limit=1)
    assert [c.dedupe_key for c in claimed] == ["warn-1"]
    assert claimed[0].attempts == 1 and claimed[0].payload == '{"key":"warn-1"}'
    assert (await state_of(store, "warn-1"))["state"] == "in_flight"
    assert [c.dedupe_key for c in await claim(store, TrafficClass.ROUTINE)] == ["warn-2"]
    assert await claim(store, TrafficClass.ROUTINE) == []


async def test_a_batch_stops_at_its_byte_limit_but_always_takes_one(store: Store, tmp_path: Path) -> None:
    await put(store, OutboxEntry("footage.file", Priority.ROUTINE, "big", file=FileRef(tmp_path / "f", 10_000, SHA)),
              *(payload(f"p{i}") for i in range(5)))
    first = await claim(store, TrafficClass.ROUTINE, max_bytes=100)
    assert [c.dedupe_key for c in first] == ["big"] and first[0].bytes == 10_000 and first[0].file is not None
    rest = await claim(store, TrafficClass.ROUTINE, max_bytes=3 * len('{"key":"p0"}'))
    assert [c.dedupe_key for c in rest] == ["p0", "p1", "p2"]


async def test_sent_then_confirmed_with_a_receipt(store: Store) -> None:
    await put(store, payload("a"))
    [entry] = await claim(store, TrafficClass.ROUTINE)
    await store.write(lambda tx: uplink_queue.mark_sent(tx, entry.id, owner="drain-1", now=T0))
    row = await state_of(store, "a")
    assert row["state"] == "sent" and row["lease_owner"] is None
    assert await claim(store, TrafficClass.ROUTINE) == []  # delivered: never sent again
    receipt = {"id": "c-1", "received_at": "2026-03-01T12:00:01Z"}
    assert await store.write(lambda tx: uplink_queue.mark_confirmed(tx, entry.id, receipt=receipt, now=T0)) is True
    assert await store.write(lambda tx: uplink_queue.mark_confirmed(tx, entry.id, receipt={"x": 1}, now=T0)) is False
    row = await state_of(store, "a")
    assert row["state"] == "confirmed" and json.loads(str(row["receipt"])) == receipt


async def test_transitions_out_of_turn_are_refused_and_change_nothing(store: Store, tmp_path: Path) -> None:
    await put(store, payload("a"), OutboxEntry("footage.file", Priority.ROUTINE, "f",
                                               file=FileRef(tmp_path / "f", 10, SHA)))
    entry_id = (await state_of(store, "a"))["id"]
    assert isinstance(entry_id, int)
    with pytest.raises(TransitionRefused, match="is pending, not in flight"):
        await store.write(lambda tx: uplink_queue.mark_sent(tx, entry_id, owner="drain-1", now=T0))
    with pytest.raises(TransitionRefused, match="only a sent entry is confirmed"):
        await store.write(lambda tx: uplink_queue.mark_confirmed(tx, entry_id, receipt={}, now=T0))
    await claim(store, TrafficClass.ROUTINE, owner="drain-1")
    with pytest.raises(TransitionRefused, match="under another lease"):
        await store.write(lambda tx: uplink_queue.mark_sent(tx, entry_id, owner="drain-2", now=T0))
    with pytest.raises(TransitionRefused, match="under another lease"):
        await store.write(lambda tx: uplink_queue.requeue(tx, entry_id, owner="drain-2", error="x", retry_at=T0,
                                                          now=T0))
    file_id = (await state_of(store, "f"))["id"]
    assert isinstance(file_id, int)
    with pytest.raises(TransitionRefused, match="carries a file"):
        await store.write(lambda tx: uplink_queue.mark_confirmed(tx, file_id, receipt={}, now=T0))
    with pytest.raises(TransitionRefused, match="no outbox entry 999"):
        await store.write(lambda tx: uplink_queue.mark_failed(tx, 999, reason="rejected", detail="", now=T0))
    with pytest.raises(ValueError, match="not a code"):
        await store.write(lambda tx: uplink_queue.mark_failed(tx, entry_id, reason="Bad Reason", detail="", now=T0))
    assert (await state_of(store, "a"))["state"] == "in_flight"


async def test_a_requeued_entry_waits_for_its_backoff_and_keeps_its_idempotency_key(store: Store) -> None:
    await put(store, payload("a"))
    [first] = await claim(store, TrafficClass.ROUTINE)
    retry_at = T0 + timedelta(seconds=30)
    await store.write(lambda tx: uplink_queue.requeue(tx, first.id, owner="drain-1", error="503 Retry-After: 30",
                                                      retry_at=retry_at, now=T0))
    row = await state_of(store, "a")
    assert row["state"] == "pending" and row["last_error"] == "503 Retry-After: 30"
    assert await claim(store, TrafficClass.ROUTINE, at=T0 + timedelta(seconds=29)) == []
    [second] = await claim(store, TrafficClass.ROUTINE, at=retry_at)
    assert second.idempotency_key == first.idempotency_key == uplink_queue.idempotency_key("st-1", "a", 1)
    assert second.attempts == 2


async def test_a_failed_entry_keeps_its_reason_until_an_operator_retries_it(store: Store) -> None:
    await put(store, payload("a"))
    [entry] = await claim(store, TrafficClass.ROUTINE)
    await store.write(lambda tx: uplink_queue.mark_failed(tx, entry.id, reason="http.422", detail="schema", now=T0))
    row = await state_of(store, "a")
    assert (row["state"], row["failed_reason"], row["last_error"]) == ("failed", "http.422", "schema")
    assert await claim(store, TrafficClass.ROUTINE) == []
    with pytest.raises(TransitionRefused, match="failed already"):
        await store.write(lambda tx: uplink_queue.mark_failed(tx, entry.id, reason="x", detail="", now=T0))
    await store.write(lambda tx: uplink_queue.retry_failed(tx, entry.id, now=T0))
    [again] = await claim(store, TrafficClass.ROUTINE)
    assert again.idempotency_key == entry.idempotency_key and again.attempts == 2


async def test_expendable_entries_expire_as_failures_and_evidence_never_does(store: Store) -> None:
    await put(store, payload("gps-old", Priority.BULK), payload("link", Priority.EVIDENCE))
    await put(store, payload("gps-new", Priority.BULK), at=T0 + timedelta(minutes=30))
    assert await store.write(lambda tx: uplink_queue.set_ttl(tx, TrafficClass.TELEMETRY, 3600)) == 2
    with pytest.raises(ValueError, match="never expire"):
        await store.write(lambda tx: uplink_queue.set_ttl(tx, TrafficClass.EVIDENCE, 3600))
    # The table refuses it too, whoever writes.
    with pytest.raises(StoreError, match="CHECK constraint failed"):
        await store.write(lambda tx: tx.execute("UPDATE outbox SET expires_at = 'x' WHERE dedupe_key = 'link'"))
    later = T0 + timedelta(hours=1, seconds=1)
    assert [c.dedupe_key for c in await claim(store, TrafficClass.TELEMETRY, at=later, limit=1)] == ["gps-new"]
    assert await store.write(lambda tx: uplink_queue.expire(tx, now=later)) == 1
    row = await state_of(store, "gps-old")
    assert (row["state"], row["failed_reason"]) == ("failed", "expired")
    stats = await store.read(lambda q: uplink_queue.stats(q, now=later))
    assert stats[TrafficClass.TELEMETRY].failed == 1 and stats[TrafficClass.EVIDENCE].queued == 1


async def test_a_promotion_to_evidence_moves_the_class_and_drops_the_expiry(store: Store) -> None:
    await put(store, payload("gps", Priority.BULK))
    await store.write(lambda tx: uplink_queue.set_ttl(tx, TrafficClass.TELEMETRY, 60))
    assert await store.write(lambda tx: promote(tx, "gps", Priority.EVIDENCE)) is True
    row = await state_of(store, "gps")
    assert (row["uplink_class"], row["expires_at"]) == ("evidence", None)


async def test_a_rearmed_file_goes_out_under_a_new_idempotency_key(store: Store, tmp_path: Path) -> None:
    entry = OutboxEntry("footage.file", Priority.ROUTINE, f"footage:{SHA}", file=FileRef(tmp_path / "f", 10, SHA))
    await put(store, entry)
    [first] = await claim(store, TrafficClass.ROUTINE)
    await store.write(lambda tx: uplink_queue.mark_sent(tx, first.id, owner="drain-1", now=T0))
    await store.write(lambda tx: confirm(tx, entry.dedupe_key, Receipt(SHA, "obj-1", "2026-03-01T12:00:00Z")))
    assert (await state_of(store, entry.dedupe_key))["state"] == "confirmed"
    assert await store.write(lambda tx: rearm_file(tx, entry, now=T0)) is True
    [second] = await claim(store, TrafficClass.ROUTINE)
    assert second.idempotency_key != first.idempotency_key  # the central platform must not replay the old receipt
    assert second.idempotency_key == uplink_queue.idempotency_key("st-1", entry.dedupe_key, 2)


async def test_stats_per_class(store: Store, tmp_path: Path) -> None:
    await put(store, payload("a"), at=T0 - timedelta(minutes=10))
    await put(store, OutboxEntry("footage.file", Priority.ROUTINE, "f", file=FileRef(tmp_path / "f", 5000, SHA)))
    await put(store, payload("s", Priority.CRITICAL))
    [sos] = await claim(store, TrafficClass.CRITICAL)
    await store.write(lambda tx: uplink_queue.mark_sent(tx, sos.id, owner="drain-1", now=T0))
    await claim(store, TrafficClass.ROUTINE, limit=1)
    stats = await store.read(lambda q: uplink_queue.stats(q, now=T0))
    routine = stats[TrafficClass.ROUTINE]
    assert (routine.queued, routine.queued_bytes, routine.in_flight) == (2, 5000 + len('{"key":"a"}'), 1)
    assert routine.oldest_age_s == pytest.approx(600)
    assert stats[TrafficClass.CRITICAL] == uplink_queue.ClassStats(0, 0, None, 0, 1, 0)
    assert stats[TrafficClass.KIOSK] == uplink_queue.ClassStats(0, 0, None, 0, 0, 0)
    heads = await store.read(lambda q: uplink_queue.due_heads(q, now=T0))
    assert heads == {TrafficClass.ROUTINE: 5000}


async def test_recovery_returns_only_other_owners_leases(store: Store) -> None:
    await put(store, payload("a"), payload("b"))
    [old] = await claim(store, TrafficClass.ROUTINE, owner="dead-run", limit=1)
    await claim(store, TrafficClass.ROUTINE, owner="this-run", limit=1)
    assert await store.write(lambda tx: uplink_queue.recover_leases(tx, owner="this-run", now=T0)) == 1
    row = await state_of(store, "a")
    assert (row["state"], row["lease_owner"], row["last_error"]) == ("pending", None, "lease of dead-run recovered")
    assert (await state_of(store, "b"))["state"] == EntryState.IN_FLIGHT
    [again] = await claim(store, TrafficClass.ROUTINE, owner="this-run")
    assert again.idempotency_key == old.idempotency_key


# -- SIGKILL of a real process in the middle of draining -----------------------------------------------------

DRAINER = textwrap.dedent("""
    import asyncio, sys
    from datetime import UTC, datetime
    from pathlib import Path
    from edge.store import Store, uplink_queue
    from edge.store.uplink_queue import TrafficClass

    async def main():
        store = Store(Path(sys.argv[1]))
        await store.open()
        owner = sys.argv[2]
        now = datetime.now(UTC)
        await store.write(lambda tx: uplink_queue.recover_leases(tx, owner=owner, now=now))
        while True:
            claimed = await store.write(lambda tx: uplink_queue.claim(
                tx, TrafficClass.ROUTINE, owner=owner, station_id="st-1", now=datetime.now(UTC), limit=3))
            if not claimed:
                break
            for entry in claimed:
                # "The wire": what the central platform would have received, with its key.
                print("wire", entry.dedupe_key, entry.idempotency_key, flush=True)
                await store.write(lambda tx, e=entry: uplink_queue.mark_sent(tx, e.id, owner=owner,
                                                                             now=datetime.now(UTC)))
        print("done", flush=True)
        await store.close()

    asyncio.run(main())
""")


HUNG = textwrap.dedent("""
    import asyncio, sys, time
    from datetime import UTC, datetime
    from pathlib import Path
    from edge.store import Store, uplink_queue
    from edge.store.uplink_queue import TrafficClass

    async def main():
        store = Store(Path(sys.argv[1]))
        await store.open()
        claimed = await store.write(lambda tx: uplink_queue.claim(
            tx, TrafficClass.EVIDENCE, owner="run-1", station_id="st-1", now=datetime.now(UTC), limit=5))
        print(" ".join(f"{e.dedupe_key}={e.idempotency_key}" for e in claimed), flush=True)
        time.sleep(600)  # a transfer that hangs until the process is killed

    asyncio.run(main())
""")


def _claim_and_get_killed(db: Path) -> dict[str, str]:
    """Run HUNG, read the keys it claimed, SIGKILL it; {dedupe key: idempotency key}."""
    with subprocess.Popen([sys.executable, "-c", HUNG, str(db)], stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        reported = dict(pair.split("=") for pair in child.stdout.readline().split())
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return reported


async def test_entries_claimed_by_a_process_killed_with_sigkill_return_to_pending_at_the_next_start(
        tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    store = Store(db)
    await store.open()
    await store.write(lambda tx: [enqueue(tx, payload(f"link-{i}", Priority.EVIDENCE), now=T0) for i in range(8)])
    await store.close()
    reported = await asyncio.to_thread(_claim_and_get_killed, db)
    assert len(reported) == 5

    store = Store(db)
    await store.open()
    try:
        states = await store.read(lambda q: q.all("SELECT state, count(*) AS n FROM outbox GROUP BY state"))
        assert {r["state"]: r["n"] for r in states} == {"in_flight": 5, "pending": 3}  # the claims were on disk
        assert await store.write(lambda tx: uplink_queue.recover_leases(tx, owner="run-2", now=T0)) == 5
        again = await store.write(lambda tx: uplink_queue.claim(tx, TrafficClass.EVIDENCE, owner="run-2",
                                                                station_id="st-1", now=datetime.now(UTC), limit=8))
    finally:
        await store.close()
    assert len(again) == 8
    for entry in again:
        if entry.dedupe_key in reported:
            assert (entry.idempotency_key, entry.attempts) == (reported[entry.dedupe_key], 2)
        else:
            assert entry.attempts == 1


def _drain_killed_then_drain_again(db: Path) -> list[tuple[str, str]]:
    """A drainer killed with SIGKILL after 40 entries reached the wire, then a second one to the end; returns
    the wire: (dedupe key, idempotency key) of every send, in order."""
    wire: list[tuple[str, str]] = []
    with subprocess.Popen([sys.executable, "-c", DRAINER, str(db), "run-1"], stdout=subprocess.PIPE,
                          text=True) as child:
        assert child.stdout is not None
        deadline = time.monotonic() + 60
        while len(wire) < 40 and time.monotonic() < deadline:
            line = child.stdout.readline().split()
            assert line and line[0] == "wire", f"the drainer ended early: {line}"
            wire.append((line[1], line[2]))
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    second = subprocess.run([sys.executable, "-c", DRAINER, str(db), "run-2"], capture_output=True, text=True,
                            timeout=120, check=True)
    lines = [line.split() for line in second.stdout.splitlines()]
    assert lines[-1] == ["done"]
    wire += [(parts[1], parts[2]) for parts in lines[:-1]]
    return wire


async def test_sigkill_while_draining_loses_nothing_and_a_resend_carries_the_same_key(tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    store = Store(db)
    await store.open()
    await store.write(lambda tx: [enqueue(tx, payload(f"e{i:03d}"), now=T0) for i in range(300)])
    await store.close()

    wire = await asyncio.to_thread(_drain_killed_then_drain_again, db)

    final = Store(db)
    await final.open()
    try:
        rows = await final.read(lambda q: q.all("SELECT dedupe_key, state, idempotency_key FROM outbox"))
    finally:
        await final.close()
    assert len(rows) == 300 and {r["state"] for r in rows} == {"sent"}  # nothing lost
    keys = {r["dedupe_key"]: r["idempotency_key"] for r in rows}
    sent_keys: dict[str, set[str]] = {}
    for dedupe_key, key in wire:
        sent_keys.setdefault(dedupe_key, set()).add(key)
    assert set(sent_keys) == set(keys)  # every entry reached the wire
    assert all(found == {keys[k]} for k, found in sent_keys.items())  # a resend always with the same key
    assert len(wire) - len(keys) <= 1  # at most the entry between "on the wire" and "marked sent" went twice

