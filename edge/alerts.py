"""Station alerts: raised and cleared by any domain, stored with their history, sent everywhere.

A condition has a key (``battery_low:cam-0001``); raising an active key again only records a change if
its severity or message changed, so callers may raise on every message. Each transition commits an alert
row, its history event and an outbox entry together, then is published on ``edge/{station_id}/alerts``
(QoS 1) for supervisors' screens; the outbox carries it to the central platform even if the broker is away.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edge.store import Store, Tx
from edge.store import alerts as rows
from edge.store.outbox import OutboxEntry, Priority, enqueue
from edge.timeutil import to_iso, utcnow

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], Awaitable[None]]
_PUBLISH_TIMEOUT_S = 5.0


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


_PRIORITY = {Severity.CRITICAL: Priority.CRITICAL, Severity.WARNING: Priority.ROUTINE, Severity.INFO: Priority.BULK}


@dataclass(frozen=True, slots=True)
class Alert:
    key: str
    kind: str  # dotted: bodycam.sos, footage.quarantined, disk.critical, kiosk.device_degraded
    severity: Severity
    subject: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)


def alert_topic(station_id: str) -> str:
    return f"edge/{station_id}/alerts"


class AlertBus:
    def __init__(self, station_id: str, store: Store, publish: Publish | None = None) -> None:
        self.station_id = station_id
        self._store = store
        self._publish = publish
        self._seq = itertools.count(1)
        self._in_flight: set[asyncio.Task[None]] = set()

    async def raise_alert(self, alert: Alert, *, at: datetime | None = None,
                          also: Callable[[Tx], None] | None = None) -> bool:
        """Raise (or update) an alert; ``also`` runs in the same transaction. True if anything changed."""
        stamp = to_iso(at or utcnow())

        def write(tx: Tx) -> str | None:
            if also is not None:
                also(tx)
            current = rows.active(tx, alert.key)
            if current is None:
                rows.open_alert(tx, key=alert.key, kind=alert.kind, severity=alert.severity, subject=alert.subject,
                                message=alert.message, details=alert.details, at=stamp)
                change = "raised"
            elif current["severity"] != alert.severity or current["message"] != alert.message:
                rows.change(tx, current["id"], severity=alert.severity, message=alert.message,
                            details=alert.details, at=stamp)
                change = "changed"
            else:
                return None
            self._enqueue(tx, alert, change, stamp)
            return change

        change = await self._store.write(write)
        if change is None:
            return False
        log.log(logging.WARNING if alert.severity != Severity.INFO else logging.INFO,
                "alert %s (%s): %s", change, alert.kind, alert.message,
                extra={"alert_key": alert.key, "severity": alert.severity.value})
        self._send(self._payload(alert, change, stamp))
        return True

    async def clear_alert(self, key: str, reason: str, *, at: datetime | None = None) -> bool:
        """Clear an active alert; False if none was active under that key."""
        stamp = to_iso(at or utcnow())

        def write(tx: Tx) -> Alert | None:
            current = rows.active(tx, key)
            if current is None:
                return None
            rows.close(tx, current["id"], severity=current["severity"], reason=reason, at=stamp)
            cleared = Alert(key, current["kind"], Severity(current["severity"]), current["subject"], reason,
                            json.loads(current["details"]))
            self._enqueue(tx, cleared, "cleared", stamp)
            return cleared

        cleared = await self._store.write(write)
        if cleared is None:
            return False
        log.info("alert cleared (%s): %s", cleared.kind, reason, extra={"alert_key": key})
        self._send(self._payload(cleared, "cleared", stamp))
        return True

    async def drain(self) -> None:
        """Wait for publishes still in flight (used at shutdown)."""
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    def _payload(self, alert: Alert, change: str, stamp: str) -> dict[str, Any]:
        return {
            "v": 1, "station_id": self.station_id, "seq": next(self._seq), "msg_id": uuid.uuid4().hex,
            "ts": stamp, "key": alert.key, "kind": alert.kind, "state": change, "severity": alert.severity.value,
            "subject": alert.subject, "message": alert.message, "details": dict(alert.details),
        }

    def _enqueue(self, tx: Tx, alert: Alert, change: str, stamp: str) -> None:
        enqueue(tx, OutboxEntry(
            "alert", _PRIORITY[alert.severity], f"alert:{alert.key}:{change}:{stamp}",
            payload={"station_id": self.station_id, "key": alert.key, "kind": alert.kind, "state": change,
                     "severity": alert.severity.value, "subject": alert.subject, "message": alert.message,
                     "details": dict(alert.details), "at": stamp},
        ))

    def _send(self, payload: dict[str, Any]) -> None:
        if self._publish is None:
            return
        task = asyncio.create_task(self._publish_one(payload), name=f"alerts.publish[{payload['key']}]")
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _publish_one(self, payload: dict[str, Any]) -> None:
        assert self._publish is not None
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            await asyncio.wait_for(self._publish(alert_topic(self.station_id), data), _PUBLISH_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - the outbox still carries the alert
            log.warning("alert %s not published on MQTT (%s); it stays in the outbox", payload["key"], exc)
