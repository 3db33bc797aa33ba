"""Jittered exponential backoff: the one delay rule for every retry loop (MQTT link and dispatcher, case feed,
supervisor restarts, serial ports, telemetry batches, alerts held in memory).

A pure function rather than a library: its users each run their own loop (log the failure once,
reset on recovery, wait on a connection event), so they need a delay value, not a retrying decorator.
``backoff`` and ``tenacity`` wrap a callable and own the loop and the sleep, which fits none of them; the
rule itself is three lines.

"Full jitter" (delays drawn uniformly below an exponentially growing ceiling) spreads the retries of many
stations or cameras hitting the same broker or central service after an outage. The draw keeps a floor of
half the minimum so a retry never fires with no delay at all.
"""

from __future__ import annotations

import random

_MAX_DOUBLINGS = 32  # 2**32 times any sane minimum is far past any maximum; keeps the float finite


def jittered_backoff(attempt: int, *, min_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """The delay before retry number ``attempt`` (1 = the first retry), in seconds.

    The ceiling starts at ``min_s`` and doubles with each attempt up to ``max_s``; the delay is drawn
    uniformly from [min_s / 2, ceiling]. Give ``rng`` a seeded ``random.Random`` for reproducible delays.
    """
    if min_s <= 0:
        raise ValueError(f"backoff needs min_s > 0, got {min_s}")
    doublings = min(max(attempt, 1) - 1, _MAX_DOUBLINGS)
    # A maximum below the minimum (two independent config keys) means "never grow", not a crash in a retry loop.
    ceiling = min(max(max_s, min_s), min_s * 2**doublings)
    return (rng or random).uniform(min_s / 2, ceiling)

