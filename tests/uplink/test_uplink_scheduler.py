"""The scheduler, pure: critical preempts at the next boundary, the others share bytes by weight with minimum
shares (measured over many rounds), pauses by reason, metered mode and window pauses."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.store.uplink_queue import TrafficClass as C
from edge.uplink.config import UplinkConfig
from edge.uplink.scheduler import (
    WEIGHTED_ORDER,
    PauseReason,
    Scheduler,
    SchedulerPlan,
    Share,
    effective_shares,
)

MiB = 1 << 20
DEFAULT = SchedulerPlan({C.EVIDENCE: Share(8, 0.3), C.KIOSK: Share(4, 0.1), C.ROUTINE: Share(2, 0.1),
                         C.TELEMETRY: Share(1, 0.05)})


def run(scheduler: Scheduler, sizes: Mapping[C, tuple[int, int]], units: int, seed: int = 7,
        window_paused: frozenset[C] = frozenset(), until_bytes: int | None = None) -> Counter[C]:
    """Serve ``units`` units (or until ``until_bytes`` went) from always-backlogged classes whose unit sizes
    are drawn from ``sizes``; returns bytes sent per class."""
    rng = random.Random(seed)
    heads = {c: rng.randint(*span) for c, span in sizes.items()}
    sent: Counter[C] = Counter()
    for _ in range(units):
        if until_bytes is not None and sum(sent.values()) >= until_bytes:
            break
        c = scheduler.next(heads, window_paused=window_paused)
        if c is None:
            break
        sent[c] += heads[c]
        scheduler.charge(c, heads[c])
        heads[c] = rng.randint(*sizes[c])
    return sent


def fractions(sent: Counter[C]) -> dict[C, float]:
    total = sum(sent.values())
    return {c: n / total for c, n in sent.items()}


def test_backlogged_classes_share_bytes_by_weight_over_many_rounds() -> None:
    # Units of very different sizes (4 KiB records, up to 64 MiB footage parts): DRR shares bytes, not turns.
    # The error of deficit round robin is about one unit per class: 64 MiB parts need tens of GiB to measure.
    sizes = {C.EVIDENCE: (1, 64 * MiB), C.KIOSK: (64 << 10, MiB), C.ROUTINE: (16 * MiB, 64 * MiB),
             C.TELEMETRY: (4 << 10, 64 << 10)}
    got = fractions(run(Scheduler(DEFAULT), sizes, 1_000_000, until_bytes=40 << 30))
    expected = {C.EVIDENCE: 8 / 15, C.KIOSK: 4 / 15, C.ROUTINE: 2 / 15, C.TELEMETRY: 1 / 15}
    for c in WEIGHTED_ORDER:
        assert got[c] == pytest.approx(expected[c], abs=0.01), (c, got)


def test_a_minimum_share_lifts_a_small_weight() -> None:
    plan = SchedulerPlan({C.EVIDENCE: Share(100), C.KIOSK: Share(1), C.ROUTINE: Share(1, 0.2),
                          C.TELEMETRY: Share(1)})
    sizes = dict.fromkeys(WEIGHTED_ORDER, (16 * MiB, 64 * MiB))
    got = fractions(run(Scheduler(plan), sizes, 50_000))
    assert got[C.ROUTINE] == pytest.approx(0.2, abs=0.01)
    # The 0.2 came from the others in proportion to their weights: 0.8 * 100/102 for evidence.
    assert got[C.EVIDENCE] == pytest.approx(0.8 * 100 / 102, abs=0.01)
    assert got[C.KIOSK] == pytest.approx(0.8 / 102, abs=0.005)


def test_routine_footage_is_never_starved_by_a_flood_of_evidence() -> None:
    scheduler = Scheduler(DEFAULT)
    sizes = {C.EVIDENCE: (256 << 10, 256 << 10), C.ROUTINE: (64 * MiB, 64 * MiB)}
    sent = run(scheduler, sizes, 1_000_000, until_bytes=20 << 30)
    # Weights 8:2, and routine's minimum share 0.1 is below its weight's 0.2: 80/20 by bytes.
    assert fractions(sent)[C.ROUTINE] == pytest.approx(0.2, abs=0.02)


def test_critical_preempts_at_the_next_unit_boundary_and_the_others_resume() -> None:
    scheduler = Scheduler(DEFAULT)
    heads: dict[C, int] = {C.ROUTINE: MiB, C.TELEMETRY: 256 << 10}  # footage parts, telemetry batches
    order = []
    critical_left = 0
    for step in range(40):
        if step == 10:
            heads[C.CRITICAL] = 300  # an SOS arrives while footage parts are going
            critical_left = 3
        c = scheduler.next(heads)
        assert c is not None
        order.append(c)
        scheduler.charge(c, heads[c])
        if c is C.CRITICAL:
            critical_left -= 1
            if critical_left == 0:
                del heads[C.CRITICAL]
    assert order[10:13] == [C.CRITICAL] * 3  # the very next boundaries, all three before anything else
    assert C.CRITICAL not in order[:10] and C.CRITICAL not in order[13:]
    assert C.ROUTINE in order[13:] and C.TELEMETRY in order[13:]


def test_critical_is_picked_even_when_every_weighted_class_is_paused() -> None:
    scheduler = Scheduler(DEFAULT)
    for c in WEIGHTED_ORDER:
        scheduler.pause(c, PauseReason.OPERATOR)
    assert scheduler.next(dict.fromkeys(WEIGHTED_ORDER, 10)) is None
    assert scheduler.next({C.CRITICAL: 10, C.ROUTINE: 10}) is C.CRITICAL


def test_a_paused_class_waits_until_its_last_reason_is_lifted() -> None:
    scheduler = Scheduler(DEFAULT)
    heads = {C.EVIDENCE: 1000, C.ROUTINE: 1000}
    scheduler.pause(C.EVIDENCE, PauseReason.STORAGE_FULL)  # the central platform answered 507
    scheduler.pause(C.EVIDENCE, PauseReason.OPERATOR)
    assert {scheduler.next(heads) for _ in range(50)} == {C.ROUTINE}
    assert scheduler.resume(C.EVIDENCE, PauseReason.STORAGE_FULL) is False  # the operator's pause stays
    assert scheduler.pause_reasons(C.EVIDENCE) == {PauseReason.OPERATOR}
    assert scheduler.next({C.EVIDENCE: 1000}) is None
    assert scheduler.resume(C.EVIDENCE, PauseReason.OPERATOR) is True
    sent = run(scheduler, {C.EVIDENCE: (1000, 1000), C.ROUTINE: (1000, 1000)}, 10_000)
    assert fractions(sent)[C.EVIDENCE] == pytest.approx(0.8, abs=0.01)


def test_a_paused_class_saves_up_no_credit() -> None:
    scheduler = Scheduler(SchedulerPlan(DEFAULT.shares, quantum=4500))  # rounds of 9 units of 1000 bytes
    scheduler.pause(C.TELEMETRY, PauseReason.OPERATOR)
    run(scheduler, {C.TELEMETRY: (1000, 1000), C.EVIDENCE: (1000, 1000)}, 5_000)
    scheduler.resume(C.TELEMETRY, PauseReason.OPERATOR)
    # Straight after the pause it gets its 1/9 share, not a burst that would make up for the pause.
    sent = run(scheduler, {C.TELEMETRY: (1000, 1000), C.EVIDENCE: (1000, 1000)}, 900)
    assert fractions(sent)[C.TELEMETRY] == pytest.approx(1 / 9, abs=0.03)


def test_metered_mode_defers_the_routine_classes_only() -> None:
    scheduler = Scheduler(DEFAULT, metered=True)
    heads = {C.KIOSK: 100, C.ROUTINE: 100, C.TELEMETRY: 100}
    assert {scheduler.next(heads) for _ in range(20)} == {C.KIOSK}
    assert scheduler.pause_reasons(C.ROUTINE) == {PauseReason.METERED}
    assert scheduler.next({C.ROUTINE: 100, C.TELEMETRY: 100}) is None
    scheduler.metered = False
    assert scheduler.next({C.ROUTINE: 100}) is C.ROUTINE


def test_a_window_pauses_what_the_budget_says() -> None:
    scheduler = Scheduler(DEFAULT)
    business = frozenset({C.ROUTINE, C.TELEMETRY})
    sent = run(scheduler, {C.ROUTINE: (MiB, MiB), C.TELEMETRY: (10, 10), C.KIOSK: (100, 100)}, 1000,
               window_paused=business)
    assert set(sent) == {C.KIOSK}
    assert scheduler.pause_reasons(C.ROUTINE, business) == {PauseReason.WINDOW}


def test_nothing_to_send_gives_none() -> None:
    assert Scheduler(DEFAULT).next({}) is None


def test_the_default_config_gives_a_valid_plan() -> None:
    plan = UplinkConfig().scheduler_plan()
    assert plan.shares == DEFAULT.shares and plan.metered_defers == {C.ROUTINE, C.TELEMETRY}
    shares = effective_shares(plan.shares, list(WEIGHTED_ORDER))
    assert sum(shares.values()) == pytest.approx(1.0)
    assert all(shares[c] >= plan.shares[c].min_share for c in WEIGHTED_ORDER)


def test_a_plan_refuses_shares_that_cannot_all_be_met() -> None:
    with pytest.raises(ValueError, match="more than 1"):
        SchedulerPlan({C.EVIDENCE: Share(1, 0.6), C.KIOSK: Share(1, 0.5), C.ROUTINE: Share(1), C.TELEMETRY: Share(1)})
    with pytest.raises(ValueError, match="every weighted class"):
        SchedulerPlan({C.EVIDENCE: Share(1)})


weights = st.integers(1, 50)
mins = st.floats(0, 0.24)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(weights, mins), min_size=4, max_size=4),
       st.sets(st.sampled_from(WEIGHTED_ORDER), min_size=1))
def test_every_backlogged_class_gets_at_least_its_minimum_and_shares_add_up(
        params: list[tuple[int, float]], active: set[C]) -> None:
    plan = SchedulerPlan({c: Share(w, m) for c, (w, m) in zip(WEIGHTED_ORDER, params, strict=True)}, quantum=64_000)
    live = [c for c in WEIGHTED_ORDER if c in active]
    shares = effective_shares(plan.shares, live)
    assert sum(shares.values()) == pytest.approx(1.0)
    sent = fractions(run(Scheduler(plan), dict.fromkeys(live, (1000, 200000)), 6000))
    for c in live:
        assert shares[c] >= plan.shares[c].min_share - 1e-9
        assert sent.get(c, 0.0) == pytest.approx(shares[c], abs=0.05), (c, sent, shares)
