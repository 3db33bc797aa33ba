"""Rows for retention tests, written through the store's own table modules on a real database."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from edge.store import Store, Tx, alerts, deadletter, outbox
from edge.store import cases as case_rows
from edge.store import footage as footage_rows
from edge.store import telemetry as telemetry_rows
from edge.store.outbox import OutboxEntry, Priority
from edge.timeutil import to_iso


def telemetry_row(device_id: str, seq: int, device_ts: datetime, received_at: datetime) -> tuple[Any, ...]:
    ts, rx = telemetry_rows.epoch_us(device_ts), telemetry_rows.epoch_us(received_at)
    return (device_id, seq, f"{device_id}-m{seq}", ts, rx, 22.5, 114.0, 5.0, ts, 80, 30_000, 1, -90, 0, "new")


async def add_track(store: Store, device_id: str, start: datetime, minutes: int, *, every_s: int = 60,
                    received_lag: timedelta = timedelta(seconds=1), seq0: int = 0) -> int:
    """One fix every ``every_s`` for ``minutes``; device and gateway clocks agree but for ``received_lag``."""
    rows = [telemetry_row(device_id, seq0 + i, start + timedelta(seconds=i * every_s),
                          start + timedelta(seconds=i * every_s) + received_lag)
            for i in range(minutes * 60 // every_s)]
    return await store.write(lambda tx: telemetry_rows.insert_telemetry(tx, rows), durable=False)


async def add_event(store: Store, device_id: str, seq: int, at: datetime, kind: str = "record_start") -> None:
    await store.write(lambda tx: telemetry_rows.insert_event(
        tx, device_id=device_id, seq=seq, msg_id=f"{device_id}-e{seq}", kind=kind, device_ts=at, received_at=at,
        details={}, flag="new"))


async def add_footage(store: Store, device_id: str, recorded_at: datetime, duration_s: float, *, hold: bool = False,
                      marked: bool = False, name: str | None = None, ingested_at: datetime | None = None) -> int:
    """An ingest and the footage it produced (probed, with its duration); returns the footage id."""
    file_name = name or f"{device_id}-{recorded_at:%H%M%S}.mp4"
    sha = hashlib.sha256(f"{device_id}/{file_name}".encode()).hexdigest()
    ingest_id = sha[:32]
    at = to_iso(ingested_at or recorded_at + timedelta(hours=1))

    def write(tx: Tx) -> int:
        footage_rows.ingest_create(tx, {"id": ingest_id, "source": "upload", "device_id": device_id,
                                        "actor": f"device:{device_id}", "file_name": file_name, "length": 10,
                                        "state": "complete", "created_at": at})
        return footage_rows.insert(tx, {
            "sha256": sha, "size": 10, "path": f"files/{sha[:2]}/{sha}.mp4", "state": "good", "device_id": device_id,
            "file_name": file_name, "source": "upload", "ingest_id": ingest_id, "marked": int(marked),
            "hold": int(hold), "hold_reason": "supervisor" if hold else None, "recorded_at": to_iso(recorded_at),
            "ingested_at": at, "retain_until": None if hold or marked else at, "probe_state": "done",
            "media": f'{{"duration_s": {duration_s}}}'})

    return await store.write(write)


async def link_case(store: Store, footage_id: int, number: str, state: str, at: datetime) -> None:
    stamp = to_iso(at)
    case = {"number": number, "revision": 1, "kind": "incident", "status": "open", "title": number,
            "officers": [], "windows": [{"label": "incident", "start": stamp, "end": None}]}

    def write(tx: Tx) -> None:
        if tx.scalar("SELECT 1 FROM cases WHERE number = ?", (number,)) is None:
            case_rows.put_case(tx, case, source="local", actor="test", content_sha256="0" * 64, at=stamp)
        case_rows.set_link(tx, footage_id=str(footage_id), case_number=number, state=state, decided_by="person",
                           actor="test", provenance={"rule": "test"}, at=stamp)

    await store.write(write)


async def add_dead_letter(store: Store, at: datetime) -> int:
    return await store.write(lambda tx: deadletter.record(tx, source="mqtt", channel="bwc/x/telemetry",
                                                          reason="bad_json", detail="test", payload=b"{", at=at))


async def add_alert(store: Store, key: str, raised: datetime, cleared: datetime | None) -> int:
    def write(tx: Tx) -> int:
        alert_id = alerts.open_alert(tx, key=key, kind="test.kind", severity="warning", subject="station",
                                     message="m", details={}, at=to_iso(raised))
        if cleared is not None:
            alerts.close(tx, alert_id, severity="warning", reason="gone", at=to_iso(cleared))
        return alert_id

    return await store.write(write)


async def add_outbox(store: Store, key: str, state: str, at: datetime) -> None:
    def write(tx: Tx) -> None:
        outbox.enqueue(tx, OutboxEntry("test", Priority.BULK, key, payload={"k": key}), now=at)
        tx.execute("UPDATE outbox SET state = ?, updated_at = ? WHERE dedupe_key = ?", (state, to_iso(at), key))

    await store.write(write)


async def count(store: Store, sql: str, params: tuple[Any, ...] = ()) -> int:
    return int(await store.read(lambda q: q.scalar(sql, params)))
