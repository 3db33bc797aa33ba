"""Station alerts: raised and cleared by any domain, published at once, stored with their history.

A condition has a key (``battery_low:cam-0001``); raising an active key again only records a change if
its severity or message changed, so callers may raise on every message. The bus remembers the active
alerts (loaded from the store once), so it decides and publishes a transition on
``edge/{station_id}/alerts`` (QoS 1) *before* any durable write: an SOS reaches supervisors without
waiting for a disk. Each transition then commits an alert row, its history event and an outbox entry
together (the outbox carries it to the central platform even if the broker is away).

When the store cannot take the transition (disk full, I/O error), the alert still goes out and is held
in memory, in order, and persisted later with the next write that succeeds (a retry task keeps
trying). A caller's own rows (``also``) commit in the same transaction as its transition, and a failure
there raises to the caller, who retries: the retry re-applies the transition without publishing it again.

A transition caused by a message (``origin``: the device and its msg_id) has a deterministic msg_id, so
when a crash between publishing and committing makes the broker redeliver the message, the alert
published again is the same alert (same key, same msg_id), and the store, which dedupes by key, keeps one.
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

from edge.backoff import jittered_backoff
from edge.privacy import mask_text, mask_value
from edge.store import Store, StoreError, Tx
from edge.store import alerts as rows
from edge.store.outbox import OutboxEntry, Priority, enqueue
from edge.timeutil import to_iso, utcnow

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], Awaitable[None]]
_PUBLISH_TIMEOUT_S = 5.0
_PERSIST_RETRY_MIN_S = 0.2
_PERSIST_RETRY_MAX_S = 5.0
_MSG_ID_NAMESPACE = uuid.UUID("6f1c3c52-7a0e-4f55-9a57-3c3c8f1d2b10")


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


@dataclass(eq=False, slots=True)
class _Op:
    """One transition to store: raise (or change) ``alert``, or clear it with ``alert.message`` as reason."""

    clear: bool
    alert: Alert
    stamp: str
    msg_id: str


def _masked(alert: Alert) -> Alert:
    """An alert leaves on MQTT, in the store, the outbox, the API and the log: a message built from a
    device's text (a kiosk's detail, an exception) may quote an ID number, so it is masked once, on entry.
    The key too, so that raising and clearing the same condition find the same (masked) key."""
    return Alert(mask_text(alert.key), alert.kind, alert.severity, mask_text(alert.subject),
                 mask_text(alert.message), mask_value(dict(alert.details)))


def alert_topic(station_id: str) -> str:
    return f"edge/{station_id}/alerts"


class AlertBus:
    def __init__(self, station_id: str, store: Store, publish: Publish | None = None) -> None:
        self.station_id = station_id
        self._store = store
        self._publish = publish
        self._seq = itertools.count(1)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._active: dict[str, Alert] | None = None  # loaded from the store on first use
        self._loading = asyncio.Lock()
        self._unsaved: list[_Op] = []  # published, not stored yet (store failing), oldest first
        self._persister: asyncio.Task[None] | None = None

    @property
    def unsaved(self) -> int:
        """Transitions published but held in memory because the store could not take them."""
        return len(self._unsaved)

    async def raise_alert(self, alert: Alert, *, at: datetime | None = None,
                          also: Callable[[Tx], None] | None = None, origin: str | None = None) -> bool:
        """Raise (or update) an alert; True if it changed. ``also`` commits in the same transaction
        (and its failure raises, the alert having gone out already); ``origin`` names the triggering
        message (``device/msg_id``) to make the transition's msg_id deterministic."""
        alert = _masked(alert)
        stamp = to_iso(at or utcnow())
        active = await self._known()
        current = active.get(alert.key)
        if current is None:
            change: str | None = "raised"
        elif current.severity != alert.severity or current.message != alert.message:
            change = "changed"
        else:
            change = None
        if change is None and also is None:
            return False
        op = _Op(False, alert, stamp, self.message_id(alert.key, change or "raised", origin))
        if change is not None:
            active[alert.key] = alert
            log.log(logging.WARNING if alert.severity != Severity.INFO else logging.INFO,
                    "alert %s (%s): %s", change, alert.kind, alert.message,
                    extra={"alert_key": alert.key, "severity": alert.severity.value})
            self._send(self._payload(alert, change, stamp, op.msg_id))
            # One loop turn: the publish task hands the alert to the socket now, before the write below
            # queues a job whose commit would compete with it for the CPU (and the GIL).
            await asyncio.sleep(0)
        if also is not None:
            # Applied even when memory saw no change: an earlier attempt may have published it and then
            # failed to commit; the store's own state decides what rows it still needs.
            await self._write(also, op)
            return change is not None
        await self._save(op)
        return True

    async def clear_alert(self, key: str, reason: str, *, at: datetime | None = None) -> bool:
        """Clear an active alert; False if none was active under that key."""
        key, reason = mask_text(key), mask_text(reason)
        stamp = to_iso(at or utcnow())
        current = (await self._known()).pop(key, None)
        if current is None:
            return False
        cleared = Alert(key, current.kind, current.severity, current.subject, reason, current.details)
        op = _Op(True, cleared, stamp, self.message_id(key, "cleared", None))
        log.info("alert cleared (%s): %s", cleared.kind, reason, extra={"alert_key": key})
        self._send(self._payload(cleared, "cleared", stamp, op.msg_id))
        await self._save(op)
        return True

    async def drain(self) -> None:
        """Wait for publishes still in flight and try once more to store what is held (at shutdown)."""
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        if self._persister is not None:
            self._persister.cancel()
        if self._unsaved:
            try:
                await self._write(None, None)
            except Exception as exc:  # noqa: BLE001 - they were published; the log names what is lost
                log.error("%d alert transition(s) published but never stored: %s", len(self._unsaved), exc)

    # -- memory and store ------------------------------------------------------------------------

    async def _known(self) -> dict[str, Alert]:
        if self._active is not None:
            return self._active
        async with self._loading:
            if self._active is None:
                try:
                    found = await self._store.read(rows.all_active)
                except StoreError as exc:
                    # Without it a still-active alert raised again is published again: the same key,
                    # which subscribers and the store treat as the same alert.
                    log.warning("active alerts not loaded (%s); deciding from this run's alerts only", exc)
                    return {}
                self._active = {r["key"]: Alert(r["key"], r["kind"], Severity(r["severity"]), r["subject"],
                                                r["message"], r["details"]) for r in found}
        return self._active

    async def _save(self, op: _Op) -> None:
        """Store one transition after those held before it; hold it in memory if the store fails."""
        self._unsaved.append(op)
        if self._persister is not None and not self._persister.done():
            return  # the retry task stores it in order
        try:
            await self._write(None, None)
        except StoreError as exc:
            log.error("alert %s published but not stored (%s); held in memory and retried", op.alert.key, exc)
            self._persister = asyncio.create_task(self._persist_later(), name="alerts.persist")

    async def _persist_later(self) -> None:
        attempt = 0
        while self._unsaved:
            attempt += 1
            await asyncio.sleep(jittered_backoff(attempt + 1, min_s=_PERSIST_RETRY_MIN_S,
                                                 max_s=_PERSIST_RETRY_MAX_S))
            try:
                await self._write(None, None)
            except StoreError:
                continue
        log.warning("alert transitions held in memory are stored now")

    async def _write(self, also: Callable[[Tx], None] | None, op: _Op | None) -> None:
        """One transaction: the held transitions (oldest first), the caller's rows, then ``op``."""
        backlog = list(self._unsaved)

        def write(tx: Tx) -> None:
            for held in backlog:
                self._apply(tx, held)
            if also is not None:
                also(tx)
            if op is not None:
                self._apply(tx, op)

        await self._store.write(write)
        stored = {id(held) for held in backlog}
        self._unsaved = [held for held in self._unsaved if id(held) not in stored]

    def _apply(self, tx: Tx, op: _Op) -> None:
        """The store's side of a transition; idempotent, so a held one may be applied twice."""
        alert = op.alert
        current = rows.active(tx, alert.key)
        if op.clear:
            if current is None:
                return
            rows.close(tx, current["id"], severity=current["severity"], reason=alert.message, at=op.stamp)
            self._enqueue(tx, alert, "cleared", op.stamp)
            return
        if current is None:
            rows.open_alert(tx, key=alert.key, kind=alert.kind, severity=alert.severity, subject=alert.subject,
                            message=alert.message, details=alert.details, at=op.stamp)
            change = "raised"
        elif current["severity"] != alert.severity or current["message"] != alert.message:
            rows.change(tx, current["id"], severity=alert.severity, message=alert.message,
                        details=alert.details, at=op.stamp)
            change = "changed"
        else:
            return
        self._enqueue(tx, alert, change, op.stamp)

    # -- wire ------------------------------------------------------------------------------------

    def message_id(self, key: str, change: str, origin: str | None) -> str:
        """A transition's msg_id: derived from its cause when it has one (the same in any process)."""
        if origin is None:
            return uuid.uuid4().hex
        return uuid.uuid5(_MSG_ID_NAMESPACE, f"{self.station_id}\n{key}\n{change}\n{origin}").hex

    def _payload(self, alert: Alert, change: str, stamp: str, msg_id: str) -> dict[str, Any]:
        return {
            "v": 1, "station_id": self.station_id, "seq": next(self._seq), "msg_id": msg_id,
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
            async with asyncio.timeout(_PUBLISH_TIMEOUT_S):  # no extra task: the send starts in this turn
                await self._publish(alert_topic(self.station_id), data)
        except Exception as exc:  # noqa: BLE001 - the outbox still carries the alert
            log.warning("alert %s not published on MQTT (%s); it stays in the outbox", payload["key"], exc)
