"""Duplicate and out-of-order detection per device, from ``seq`` and ``msg_id``. Pure, bounded memory.

QoS 1 means "at least once": after a reconnect the broker or the camera may redeliver a message the
station already handled. A camera also flushes messages it buffered while offline, older than what it
sent since. The tracker tells the handler which case it has, so duplicates change nothing and late
messages are stored but never overwrite newer state.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from edge.bodycam.payloads import StatusPayload


class Verdict(StrEnum):
    NEW = "new"  # newest seq so far: store and apply
    DUPLICATE = "duplicate"  # seq or msg_id already seen: change nothing
    OUT_OF_ORDER = "out_of_order"  # older than the newest, never seen: store flagged, do not apply
    # Older than the remembered window (or than a restored high-water mark): whether it was seen cannot
    # be told. Store it flagged like OUT_OF_ORDER; a unique (device_id, msg_id) key in the store turns
    # a true duplicate into a no-op. Losing a late message would be worse than that extra lookup.
    STALE = "stale"


class SequenceTracker:
    """One device's seq history: the high-water mark plus the seqs/msg_ids of the last ``window`` seqs."""

    def __init__(self, *, window: int = 1024, high_water: int | None = None) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self._window = window
        self._high: int | None = high_water
        self._seen: dict[int, str | None] = {}  # seq -> msg_id (None: restored, id unknown)
        self._ids: dict[str, int] = {}
        # Every seq above this one is in _seen if it was ever seen. A fresh tracker knows everything
        # (nothing seen yet); after a restart it only knows the persisted mark itself.
        self._complete_above = -1 if high_water is None else high_water
        if high_water is not None:
            self._seen[high_water] = None

    @property
    def high_water(self) -> int | None:
        """The newest seq seen; persist it to restart without replaying the window."""
        return self._high

    def classify(self, seq: int, msg_id: str, *, record: bool = True) -> Verdict:
        """Classify one message and remember it, or (``record=False``) leave that to ``record`` once the
        message is stored: a message whose write failed and is retried must not look like a duplicate."""
        if msg_id in self._ids or seq in self._seen:
            return Verdict.DUPLICATE
        if self._high is None or seq > self._high:
            if record:  # inline: this is the telemetry hot path
                self._high = seq
                self._remember(seq, msg_id)
                self._prune()
            return Verdict.NEW
        if seq > self._complete_above:
            if record:
                self._remember(seq, msg_id)
            return Verdict.OUT_OF_ORDER
        return Verdict.STALE

    def record(self, seq: int, msg_id: str, verdict: Verdict) -> None:
        """Remember a message classified with ``record=False``."""
        if verdict is Verdict.NEW:
            self._high = seq if self._high is None else max(self._high, seq)
            self._remember(seq, msg_id)
            self._prune()
        elif verdict is Verdict.OUT_OF_ORDER:
            self._remember(seq, msg_id)

    def _remember(self, seq: int, msg_id: str) -> None:
        self._seen[seq] = msg_id
        self._ids[msg_id] = seq

    def _prune(self) -> None:
        # Amortised O(1): rebuild only when twice the window is held.
        if len(self._seen) <= 2 * self._window or self._high is None:
            return
        floor = self._high - self._window
        self._seen = {s: m for s, m in self._seen.items() if s > floor}
        self._ids = {m: s for s, m in self._seen.items() if m is not None}
        self._complete_above = max(self._complete_above, floor)

    def __len__(self) -> int:
        return len(self._seen)


class SequenceBook:
    """Trackers for every device (the set of devices is bounded by enrolment)."""

    def __init__(self, *, window: int = 1024, high_waters: Mapping[str, int] | None = None) -> None:
        self._window = window
        self._trackers: dict[str, SequenceTracker] = {
            device: SequenceTracker(window=window, high_water=mark) for device, mark in (high_waters or {}).items()
        }

    def classify(self, device_id: str, seq: int, msg_id: str, *, record: bool = True) -> Verdict:
        tracker = self._trackers.get(device_id)
        if tracker is None:
            tracker = self._trackers[device_id] = SequenceTracker(window=self._window)
        return tracker.classify(seq, msg_id, record=record)

    def record(self, device_id: str, seq: int, msg_id: str, verdict: Verdict) -> None:
        tracker = self._trackers.get(device_id)
        if tracker is not None:
            tracker.record(seq, msg_id, verdict)

    def high_waters(self) -> dict[str, int]:
        return {d: t.high_water for d, t in self._trackers.items() if t.high_water is not None}

    def forget(self, device_id: str) -> None:
        """Drop a device's history (device removed, or re-provisioned with its seq reset)."""
        self._trackers.pop(device_id, None)


def status_supersedes(current: StatusPayload | None, incoming: StatusPayload) -> bool:
    """Whether ``incoming`` should replace ``current`` as the device's connection state.

    Not a seq comparison: the last will is composed at connect time, so its seq is older than everything
    the connection sent afterwards. A will applies to its own ``session`` or a newer one; within one
    session, offline is final (a late "online" of the same session must not undo it).
    """
    if current is None:
        return True

    def rank(status: StatusPayload) -> tuple[int, bool, int]:
        return (status.session, status.state == "offline", status.seq)

    return rank(incoming) > rank(current)
