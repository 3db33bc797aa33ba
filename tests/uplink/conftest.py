"""Shared by the HTTP target's tests: a real migrated store whose claimed entries go to a real simulated
central platform (devices/simulators/central), keys in files as in production."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.store import Store, uplink_queue
from edge.store.outbox import OutboxEntry, Priority, enqueue
from edge.store.uplink_queue import ClaimedEntry, TrafficClass
from edge.uplink.central_access import load_access
from edge.uplink.config import CentralConfig
from edge.uplink.targets.http import CentralTarget
from tests.support.seaweed import Central

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STATION = "ST-1"  # the station tests/support/seaweed.central_ingest gives an API key



async def queue(store: Store, *keys: str, kind: str = "alert", priority: Priority = Priority.CRITICAL,
                filler: int = 0) -> list[ClaimedEntry]:
    """Enqueue one payload entry per key (``filler`` extra bytes in each) and claim them all (one class)."""
    entries = [OutboxEntry(kind, priority, key, payload={"key": key, "note": "café", "filler": "x" * filler})
               for key in keys]
    await store.write(lambda tx: [enqueue(tx, e, now=T0) for e in entries])
    klass = TrafficClass.CRITICAL if priority is Priority.CRITICAL else TrafficClass.EVIDENCE
    return await store.write(lambda tx: uplink_queue.claim(tx, klass, owner="drain-1", station_id=STATION, now=T0,
                                                           limit=len(keys)))


@dataclass
class Clock:
    """Monotonic time the test moves by hand (the breaker's cool-down without sleeping)."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def secret_files(directory: Path, central: Central, *, receipt_key: bytes | None = None,
                 api_key: str | None = None) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    api, receipt = directory / "central-api.key", directory / "central-receipt.key"
    api.write_text((api_key or central.api_key) + "\n")
    receipt.write_bytes((receipt_key or central.receipt_key) + b"\n")
    return {"api_key_file": api, "receipt_key_file": receipt}


def target_for(central: Central, directory: Path, *, clock: Callable[[], float] | None = None,
               receipt_key: bytes | None = None, api_key: str | None = None, url: str | None = None,
               **config: Any) -> CentralTarget:
    settings = CentralConfig(url=url or central.sim.url, **secret_files(directory, central, receipt_key=receipt_key,
                                                                          api_key=api_key), **config)
    access = load_access(settings)
    return CentralTarget(access, STATION, clock=clock) if clock is not None else CentralTarget(access, STATION)
