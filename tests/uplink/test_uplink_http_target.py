"""The HTTP JSON batch target against the real simulated central platform: receipts verified, a resend changes
nothing, and each fault the platform can show maps to its outcome."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from devices.simulators.central.faults import Fault
from edge.store import Store, uplink_queue
from edge.store.outbox import Priority
from edge.uplink.breaker import BreakerState
from edge.uplink.outcomes import BadAnswer, Blocked, Confirmed, Pause, Permanent, Retry
from edge.uplink.retry import retry_at
from edge.uplink.targets.central_wire import batch_key
from tests.support.seaweed import central_ingest
from tests.uplink.conftest import STATION, T0, Clock, queue, target_for


async def test_a_batch_is_confirmed_with_verified_receipts_and_a_resend_changes_nothing(
        store: Store, tmp_path: Path) -> None:
    entries = await queue(store, "sos-1", "sos-2", "sos-3")
    async with central_ingest(None, tmp_path / "central") as central, target_for(central, tmp_path) as target:
        first = await target.send_batch(entries)
        assert set(first.outcomes) == {e.id for e in entries} and first.anomalies == [] and not first.replayed
        receipts = {}
        for entry in entries:
            outcome = first.outcomes[entry.id]
            assert isinstance(outcome, Confirmed) and not outcome.duplicate
            assert outcome.receipt["dedupe_key"] == entry.dedupe_key and outcome.receipt["station"] == STATION
            receipts[entry.id] = outcome.receipt
        assert central.sim.ingest is not None and len(central.sim.ingest.items) == 3

        again = await target.send_batch(list(reversed(entries)))  # same entries: same key, whatever the order
        assert again.replayed
        assert {i: o.receipt for i, o in again.outcomes.items() if isinstance(o, Confirmed)} == receipts
        assert len(central.sim.ingest.items) == 3 and len(central.sim.ingest.batches) == 1

    await store.write(lambda tx: [uplink_queue.mark_confirmed(tx, i, receipt=r, now=T0) for i, r in receipts.items()])
    states = await store.read(lambda q: [r["state"] for r in q.iterate("SELECT state FROM outbox")])
    assert states == ["confirmed"] * 3


async def test_an_item_already_delivered_in_another_batch_is_confirmed_as_a_duplicate(
        store: Store, tmp_path: Path) -> None:
    entries = await queue(store, "sos-a", "sos-b")
    async with central_ingest(None, tmp_path / "central") as central, target_for(central, tmp_path) as target:
        first = await target.send_batch(entries[:1])
        second = await target.send_batch(entries)  # another key: the platform knows sos-a by its dedupe key
        assert batch_key(entries[:1]) != batch_key(entries)
        a, b = second.outcomes[entries[0].id], second.outcomes[entries[1].id]
        assert isinstance(a, Confirmed) and a.duplicate and isinstance(b, Confirmed) and not b.duplicate
        original = first.outcomes[entries[0].id]
        assert isinstance(original, Confirmed) and a.receipt["receipt_id"] == original.receipt["receipt_id"]


async def test_503_is_retried_no_sooner_than_its_retry_after(store: Store, tmp_path: Path) -> None:
    entries = await queue(store, "sos-1", "sos-2")
    async with central_ingest(None, tmp_path / "central") as central, target_for(central, tmp_path) as target:
        assert central.sim.ingest is not None
        central.sim.ingest.arm(Fault("unavailable", retry_after=42))
        result = await target.send_batch(entries)
        for outcome in result.outcomes.values():
            assert isinstance(outcome, Retry) and outcome.reason == "http.503.unavailable"
            assert outcome.after_s == 42
            assert retry_at(T0, 1, min_s=1, max_s=5, retry_after_s=outcome.after_s) >= T0 + timedelta(seconds=42)
        assert central.sim.ingest.items == {}
        assert all(isinstance(o, Confirmed) for o in (await target.send_batch(entries)).outcomes.values())


async def test_507_pauses_and_500_retries(store: Store, tmp_path: Path) -> None:
    entries = await queue(store, "sos-1")
    async with central_ingest(None, tmp_path / "central") as central, target_for(central, tmp_path) as target:
        assert central.sim.ingest is not None
        central.sim.ingest.arm(Fault("insufficient-storage"))
        paused = (await target.send_batch(entries)).outcomes[entries[0].id]
        assert isinstance(paused, Pause) and paused.reason == "http.507.insufficient_storage"
        central.sim.ingest.arm(Fault("error"))
        failed = (await target.send_batch(entries)).outcomes[entries[0].id]
        assert isinstance(failed, Retry) and failed.reason == "http.500.internal_error" and failed.after_s is None
        assert target.breaker.failures == 1  # a 500 counts against the breaker, a 507 (an answer) does not


async def test_a_reset_mid_body_is_retried_and_the_resend_is_idempotent(store: Store, tmp_path: Path) -> None:
    entries = await queue(store, "sos-1", "sos-2")
    async with central_ingest(None, tmp_path / "central") as central, target_for(central, tmp_path) as target:
        assert central.sim.ingest is not None
        central.sim.ingest.arm(Fault("reset"))
        cut = await target.send_batch(entries)
        assert [(type(o), o.reason) for o in cut.outcomes.values()] == [(Retry, "transport.reset")] * 2, cut
        assert len(central.sim.ingest.items) == 2  # it took effect before the answer was cut
        resent = await target.send_batch(entries)
        assert resent.replayed and all(isinstance(o, Confirmed) for o in resent.outcomes.values())
        assert len(central.sim.ingest.items) == 2 and central.sim.ingest.plan.history == ["reset"]


async def test_garbage_is_a_bad_answer_and_the_resend_gets_the_real_one(store: Store, tmp_path: Path) -> None:
    entries = await queue(store, "sos-1")
    async with central_ingest(None, tmp_path / "central") as central, target_for(central, tmp_path) as target:
        assert central.sim.ingest is not None
        central.sim.ingest.arm(Fault("garbage"))
        bad = (await target.send_batch(entries)).outcomes[entries[0].id]
        assert isinstance(bad, BadAnswer) and bad.reason == "answer.not_json"
        resent = await target.send_batch(entries)
        assert resent.replayed and isinstance(resent.outcomes[entries[0].id], Confirmed)


async def test_receipts_signed_with_another_key_are_refused(store: Store, tmp_path: Path) -> None:
    entries = await queue(store, "sos-1", "sos-2")
    async with central_ingest(None, tmp_path / "central") as central, \
            target_for(central, tmp_path, receipt_key=b"a-different-receipt-key") as target:
        result = await target.send_batch(entries)
        for outcome in result.outcomes.values():
            assert isinstance(outcome, BadAnswer) and outcome.reason == "receipt.bad_signature"


async def test_a_foreign_receipt_is_an_unknown_item_and_the_true_ones_still_count(
        store: Store, tmp_path: Path) -> None:
    entries = await queue(store, "sos-1")
    async with central_ingest(None, tmp_path / "central") as central, target_for(central, tmp_path) as target:
        assert central.sim.ingest is not None
        central.sim.ingest.arm(Fault("foreign-receipt"))
        result = await target.send_batch(entries)
        assert isinstance(result.outcomes[entries[0].id], Confirmed)
        assert [a.reason for a in result.anomalies] == ["receipt.unknown_item"]


async def test_one_bad_item_is_dead_lettered_and_the_rest_go_again(store: Store, tmp_path: Path) -> None:
    entries = await queue(store, "sos-ok", "x" * 250)  # the platform takes dedupe keys of at most 200
    async with central_ingest(None, tmp_path / "central") as central, target_for(central, tmp_path) as target:
        result = await target.send_batch(entries)
        ok, bad = result.outcomes[entries[0].id], result.outcomes[entries[1].id]
        assert isinstance(bad, Permanent) and bad.reason == "http.422.invalid_item"
        assert isinstance(ok, Retry) and ok.after_s == 0
        assert central.sim.ingest is not None and central.sim.ingest.items == {}


async def test_an_unmapped_kind_is_never_sent(store: Store, tmp_path: Path) -> None:
    entries = await queue(store, "odd-1", kind="something.new", priority=Priority.EVIDENCE)
    async with central_ingest(None, tmp_path / "central") as central, target_for(central, tmp_path) as target:
        outcome = (await target.send_batch(entries)).outcomes[entries[0].id]
        assert isinstance(outcome, Permanent) and outcome.reason == "uplink.unmapped_kind"
        assert central.sim.ingest is not None and central.sim.ingest.requests["batch"] == 0


async def test_a_refused_api_key_blocks_the_target(store: Store, tmp_path: Path) -> None:
    entries = await queue(store, "sos-1")
    async with central_ingest(None, tmp_path / "central") as central, \
            target_for(central, tmp_path, api_key="not-the-station-key") as target:
        outcome = (await target.send_batch(entries)).outcomes[entries[0].id]
        assert isinstance(outcome, Blocked) and outcome.reason == "http.401.unauthorized"
        assert target.blocked == outcome
        assert (await target.send_batch(entries)).outcomes[entries[0].id] is target.blocked
        assert central.sim.ingest is not None and central.sim.ingest.requests["batch"] == 1  # latched: not resent


async def test_down_is_transient_the_breaker_opens_after_n_and_a_half_open_probe_recovers(
        store: Store, tmp_path: Path) -> None:
    entries = await queue(store, "sos-1")
    clock = Clock()
    async with central_ingest(None, tmp_path / "central") as central, \
            target_for(central, tmp_path, clock=clock, breaker_failures=3, breaker_cooldown_s=60) as target:
        assert central.sim.ingest is not None
        central.sim.go_down(3600)
        assert central.sim.listener is not None
        for _ in range(600):  # the outage starts a moment after it is asked for (ceiling 30 s)
            if central.sim.listener.outages:
                break
            await asyncio.sleep(0.05)
        assert central.sim.listener.outages == 1
        for attempt in range(3):
            outcome = (await target.send_batch(entries)).outcomes[entries[0].id]
            assert isinstance(outcome, Retry) and outcome.reason.startswith("transport."), (attempt, outcome)
        assert target.breaker.state(clock.now) is BreakerState.OPEN
        await central.sim.come_up()
        gated = (await target.send_batch(entries)).outcomes[entries[0].id]
        assert isinstance(gated, Retry) and gated.reason == "breaker.open" and gated.after_s == 60
        assert central.sim.ingest.requests["batch"] == 0  # open: nothing was sent

        clock.now += 60  # the cool-down passed: one probe goes, and it succeeds
        probe = (await target.send_batch(entries)).outcomes[entries[0].id]
        assert isinstance(probe, Confirmed)
        assert target.breaker.state(clock.now) is BreakerState.CLOSED and central.sim.ingest.requests["batch"] == 1


async def test_an_answer_slower_than_the_timeout_is_retried(store: Store, tmp_path: Path) -> None:
    entries = await queue(store, "sos-slow")
    async with central_ingest(None, tmp_path / "central") as central, \
            target_for(central, tmp_path, timeout_s=0.3) as target:
        assert central.sim.ingest is not None
        central.sim.ingest.arm(Fault("slow", delay=3))
        outcome = (await target.send_batch(entries)).outcomes[entries[0].id]
        assert isinstance(outcome, Retry) and outcome.reason == "transport.timeout"


async def test_a_batch_over_the_body_limit_is_split_and_one_item_over_it_is_dead_lettered(
        store: Store, tmp_path: Path) -> None:
    small = await queue(store, *(f"sos-{n}" for n in range(6)), filler=1500)
    async with central_ingest(None, tmp_path / "central") as central, \
            target_for(central, tmp_path, max_batch_bytes=4096) as target:
        result = await target.send_batch(small)
        assert all(isinstance(o, Confirmed) for o in result.outcomes.values()) and len(result.outcomes) == 6
        assert central.sim.ingest is not None and len(central.sim.ingest.batches) >= 2
        sent = central.sim.ingest.requests["batch"]
        assert (await target.send_batch(small)).replayed  # the same split, the same keys: all replays
        assert len(central.sim.ingest.items) == 6 and central.sim.ingest.requests["batch"] == 2 * sent

        big = await queue(store, "sos-big", filler=8000)
        outcome = (await target.send_batch(big)).outcomes[big[0].id]
        assert isinstance(outcome, Permanent) and outcome.reason == "uplink.too_large"
        assert central.sim.ingest.requests["batch"] == 2 * sent
