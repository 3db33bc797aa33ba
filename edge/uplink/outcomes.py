"""What a target's attempt means for each entry, in the uplink's vocabulary; the drain (planned) acts on it.

Every outcome but ``Confirmed`` carries a failure code (``reason``: lower case, digits, '_' and '.', the form
``uplink_queue.mark_failed`` takes) and a human detail.

| outcome | the drain |
|---|---|
| Confirmed | stores the receipt, confirms the entry |
| Retry | requeues with backoff, never sooner than ``after_s`` (Retry-After) |
| Pause | pauses the entry's class (``storage_full``), requeues, alerts |
| Permanent | dead-letters with the reason, alerts |
| BadAnswer | requeues with backoff (the resend under the same key gets the stored answer), alerts, counts |
| Resend | the platform holds other bytes: uploads / sends again, alerts |
| Blocked | the target cannot be trusted or used (certificate, credentials): stops sending to it, alerts; never
  retried on a timer |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Confirmed:
    receipt: dict[str, Any]
    duplicate: bool = False  # the platform had it from an earlier request (its first receipt)


@dataclass(frozen=True, slots=True)
class Retry:
    reason: str
    detail: str
    after_s: float | None = None  # the target's Retry-After, a floor for the backoff


@dataclass(frozen=True, slots=True)
class Pause:
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Permanent:
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class BadAnswer:
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Resend:
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Blocked:
    reason: str
    detail: str


Outcome = Confirmed | Retry | Pause | Permanent | BadAnswer | Resend | Blocked


@dataclass(frozen=True, slots=True)
class Anomaly:
    """Something wrong in an answer that belongs to no entry we sent (a receipt for an unknown item)."""

    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class BatchResult:
    outcomes: dict[int, Outcome]  # outbox entry id -> outcome, one for every entry of the batch
    anomalies: list[Anomaly] = field(default_factory=list)
    replayed: bool = False  # the platform answered from its idempotency store (a resend)
