"""Which class sends next: critical first, the others by weight with a minimum share (deficit round robin).

Sans-I/O: the caller passes the size of the next unit (one request, or one part of a file) at the head of
each class that has work, asks ``next`` at every unit boundary, and reports what it sent with ``charge``.
Critical work is picked at the next boundary whatever else waits (preemption never cuts a part). The other
classes are served by deficit round robin over bytes, so each gets its share of what critical leaves, and a
class with a small weight still gets its ``min_share``: routine footage is slowed by evidence, never starved.

A class is paused for one or more reasons (an operator, the central platform's 507, a time window, metered
mode); it resumes when the last reason goes.

Mapping from ``edge.store.outbox.Priority`` (the outbox's generated ``uplink_class`` column, migration 0006):
CRITICAL 0 -> critical; EVIDENCE 1 -> evidence; ROUTINE 2 -> kiosk for ``kiosk.*`` kinds, else routine;
BULK 3 (and 4-9) -> telemetry.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from edge.store.uplink_queue import TrafficClass

WEIGHTED_ORDER = (TrafficClass.EVIDENCE, TrafficClass.KIOSK, TrafficClass.ROUTINE, TrafficClass.TELEMETRY)
DEFAULT_QUANTUM = 1 << 20  # bytes a class of average share may send per round


class PauseReason(enum.StrEnum):
    OPERATOR = "operator"  # `uplink pause CLASS` (planned CLI)
    STORAGE_FULL = "storage_full"  # the central platform answered 507
    METERED = "metered"  # the link is metered and the class is deferred then
    WINDOW = "window"  # a time window pauses the class


@dataclass(frozen=True, slots=True)
class Share:
    weight: int
    min_share: float = 0.0

    def __post_init__(self) -> None:
        if self.weight < 1:
            raise ValueError("a class's weight is at least 1")
        if not 0 <= self.min_share < 1:
            raise ValueError("a minimum share is a fraction below 1")


@dataclass(frozen=True, slots=True)
class SchedulerPlan:
    shares: Mapping[TrafficClass, Share]  # every weighted class
    metered_defers: frozenset[TrafficClass] = frozenset({TrafficClass.ROUTINE, TrafficClass.TELEMETRY})
    quantum: int = DEFAULT_QUANTUM

    def __post_init__(self) -> None:
        missing = [c for c in WEIGHTED_ORDER if c not in self.shares]
        if missing or TrafficClass.CRITICAL in self.shares:
            raise ValueError("shares name every weighted class and not critical")
        if sum(s.min_share for s in self.shares.values()) > 1:
            raise ValueError("minimum shares add up to more than 1")
        if self.quantum < 1:
            raise ValueError("the quantum is at least one byte")


def effective_shares(shares: Mapping[TrafficClass, Share], active: list[TrafficClass]) -> dict[TrafficClass, float]:
    """Each active class's part of the bytes: by weight, raised to its minimum share where the weight gives
    less (what is raised comes from the others, in proportion to their weights)."""
    fixed: dict[TrafficClass, float] = {}
    while True:
        free = [c for c in active if c not in fixed]
        room = 1.0 - sum(fixed.values())
        total = sum(shares[c].weight for c in free)
        result = {c: room * shares[c].weight / total for c in free} if total else {}
        short = [c for c in free if result[c] < shares[c].min_share]
        if not short:
            return {**fixed, **result}
        for c in short:
            fixed[c] = shares[c].min_share


@dataclass(slots=True)
class Scheduler:
    plan: SchedulerPlan
    metered: bool = False
    _pauses: dict[TrafficClass, set[PauseReason]] = field(default_factory=dict, init=False)
    _deficit: dict[TrafficClass, int] = field(default_factory=dict, init=False)
    _cursor: int = field(default=0, init=False)
    _visited: bool = field(default=False, init=False)  # the class under the cursor got its quantum this visit

    # -- pauses --------------------------------------------------------------------------------

    def pause(self, klass: TrafficClass, reason: PauseReason) -> None:
        self._pauses.setdefault(klass, set()).add(reason)

    def resume(self, klass: TrafficClass, reason: PauseReason) -> bool:
        """Lift one reason; True when the class is free to send again."""
        reasons = self._pauses.get(klass, set())
        reasons.discard(reason)
        return not reasons

    def pause_reasons(self, klass: TrafficClass, window_paused: frozenset[TrafficClass] = frozenset()
                      ) -> frozenset[PauseReason]:
        reasons = set(self._pauses.get(klass, ()))
        if self.metered and klass in self.plan.metered_defers:
            reasons.add(PauseReason.METERED)
        if klass in window_paused:
            reasons.add(PauseReason.WINDOW)
        return frozenset(reasons)

    # -- picking -------------------------------------------------------------------------------

    def next(self, heads: Mapping[TrafficClass, int], *,
             window_paused: frozenset[TrafficClass] = frozenset()) -> TrafficClass | None:
        """The class whose head unit goes next, or None when nothing may go. ``heads``: the next unit's size
        in bytes for each class with work due; ``window_paused``: what the budget's window pauses now."""
        ready = {c for c in heads if not self.pause_reasons(c, window_paused)}
        if TrafficClass.CRITICAL in ready:
            return TrafficClass.CRITICAL
        active = [c for c in WEIGHTED_ORDER if c in ready]
        for c in WEIGHTED_ORDER:
            if c not in ready:
                self._deficit.pop(c, None)  # no credit is saved up while empty or paused
        if not active:
            return None
        shares = effective_shares(self.plan.shares, active)
        quanta = {c: max(1, round(shares[c] * self.plan.quantum * len(active))) for c in active}
        need = {c: max(1, heads[c]) for c in active}  # an empty payload still costs a turn
        for _ in range(2):
            for _ in range(len(WEIGHTED_ORDER)):
                c = WEIGHTED_ORDER[self._cursor]
                if c in quanta:
                    if not self._visited or c not in self._deficit:  # new, or back from a pause
                        self._deficit[c] = self._deficit.get(c, 0) + quanta[c]
                        self._visited = True
                    if self._deficit[c] >= need[c]:
                        return c
                self._cursor = (self._cursor + 1) % len(WEIGHTED_ORDER)
                self._visited = False
            # A whole round and no head fits its deficit (units much larger than the quantum): the rounds in
            # which nobody could send only add quanta, so add them at once.
            rounds = min(-(-(need[c] - self._deficit.get(c, 0)) // quanta[c]) for c in active) - 1
            if rounds > 0:
                for c in active:
                    self._deficit[c] = self._deficit.get(c, 0) + rounds * quanta[c]
        raise AssertionError("deficit round robin found no class after skipping the idle rounds")

    def charge(self, klass: TrafficClass, nbytes: int) -> None:
        """``nbytes`` of ``klass`` went (critical is not charged: it stands outside the shares)."""
        if klass in self._deficit:
            self._deficit[klass] -= nbytes
