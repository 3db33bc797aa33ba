"""Faults the simulated central ingest injects on demand: a plan of armed faults, consumed per request.

Sans-I/O: the plan decides which fault (if any) applies to a request; ingest.py acts on it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FaultKind = Literal["unavailable", "insufficient-storage", "error", "slow", "reset", "garbage", "wrong-hash",
                    "wrong-signature", "foreign-receipt", "down"]
KINDS: tuple[str, ...] = ("unavailable", "insufficient-storage", "error", "slow", "reset", "garbage", "wrong-hash",
                          "wrong-signature", "foreign-receipt", "down")
ROUTES = ("any", "batch", "manifest")
# Faults that change one kind of receipt: only manifests carry a file receipt, only batches item receipts.
ONLY_ON = {"wrong-hash": "manifest", "wrong-signature": "manifest", "foreign-receipt": "batch"}


class FaultSpecError(ValueError):
    pass


@dataclass
class Fault:
    """``count`` requests affected (0: until cleared); ``down`` lasts ``seconds`` instead."""

    kind: FaultKind
    count: int = 1
    route: str = "any"
    retry_after: int = 5     # unavailable: the Retry-After header, in seconds
    delay: float = 2.0       # slow: seconds before the answer
    seconds: float = 3600.0  # down: how long the listener refuses connections
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FaultSpecError(f"unknown fault {self.kind!r}; known: {', '.join(KINDS)}")
        if self.route not in ROUTES:
            raise FaultSpecError(f"unknown route {self.route!r}; known: {', '.join(ROUTES)}")
        if self.count < 0 or self.retry_after < 0 or self.delay < 0 or self.seconds <= 0:
            raise FaultSpecError("count, retry_after and delay must be >= 0, seconds > 0")

    def applies(self, route: str) -> bool:
        if self.kind in ONLY_ON and ONLY_ON[self.kind] != route:
            return False
        return self.route in ("any", route)

    @property
    def spent(self) -> bool:
        return self.count != 0 and self.hits >= self.count

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FaultPlan:
    faults: list[Fault] = field(default_factory=list)
    down_until: float = 0.0  # monotonic; read by the listener
    history: list[str] = field(default_factory=list)  # kinds applied, in order (tests read it)

    def arm(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()
        self.down_until = 0.0

    def take(self, route: str) -> Fault | None:
        """The first armed fault for ``route``, counted as hit; spent faults are dropped."""
        for fault in self.faults:
            if fault.applies(route):
                fault.hits += 1
                if fault.spent:
                    self.faults.remove(fault)
                self.history.append(fault.kind)
                return fault
        return None

    def is_down(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) < self.down_until


def parse_fault(spec: str) -> Fault:
    """CLI form ``KIND[:COUNT][,name=value...]``, e.g. ``unavailable:3,retry_after=10``, ``slow:0,delay=5``,
    ``down,seconds=3600``, ``reset,route=batch``."""
    head, *options = [part.strip() for part in spec.split(",")]
    kind, _, count_text = head.partition(":")
    values: dict[str, Any] = {}
    try:
        if count_text:
            values["count"] = int(count_text)
        for option in options:
            name, sep, value = option.partition("=")
            if not sep:
                raise FaultSpecError(f"option {option!r} is not name=value")
            if name in ("retry_after", "count"):
                values[name] = int(value)
            elif name in ("delay", "seconds"):
                values[name] = float(value)
            elif name == "route":
                values[name] = value
            else:
                raise FaultSpecError(f"unknown option {name!r} (count, route, retry_after, delay, seconds)")
    except ValueError as exc:
        if isinstance(exc, FaultSpecError):
            raise
        raise FaultSpecError(f"bad number in fault {spec!r}: {exc}") from exc
    return Fault(kind, **values)  # type: ignore[arg-type]  # checked in __post_init__
