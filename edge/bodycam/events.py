"""Durable writes for status, events and file announcements, and the alerts they carry.

Each is committed before the MQTT handler returns (so the message is acknowledged only once stored). The
row's unique (device_id, msg_id) makes a redelivery a no-op: the writer then returns False and the
handler dead-letters it as a duplicate, changing nothing. An SOS is published first, as soon as the
payload validated, and then its event row, alert row and outbox entry commit in one transaction before
the handler returns; its alert's msg_id derives from the camera's msg_id, so a redelivery after a crash
re-raises the same alert.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from edge.alerts import Alert, AlertBus, Severity
from edge.bodycam.config import BodycamConfig
from edge.bodycam.payloads import (
    CameraMessage,
    CaseTag,
    Docked,
    FilePayload,
    MarkImportant,
    RecordStart,
    RecordStop,
    Sos,
    SosClear,
    StatusPayload,
    Undocked,
)
from edge.bodycam.registry import DeviceState
from edge.bodycam.sequence import Verdict
from edge.store import Store, Tx
from edge.store import enrolment as enrolment_rows
from edge.store import expected_footage as footage_rows
from edge.store import telemetry as rows
from edge.timeutil import from_iso, to_iso

log = logging.getLogger(__name__)

_ENVELOPE = {"v", "device_id", "seq", "msg_id", "ts", "event"}


class _AlreadyStored(Exception):
    """Rolls the write back: this message was stored before."""


def _insert(tx: Tx, msg: CameraMessage, verdict: Verdict, kind: str, details: dict[str, Any]) -> None:
    p = msg.payload
    if not rows.insert_event(tx, device_id=p.device_id, seq=p.seq, msg_id=p.msg_id, kind=kind, device_ts=p.ts,
                             received_at=msg.received_at, details=details, flag=verdict.value):
        raise _AlreadyStored


CaseTagListener = Callable[[str, str | None, datetime], Awaitable[None]]


class AnnouncementListener(Protocol):
    """The footage side, told inside the storing transaction of what may concern footage already stored."""

    def announced(self, tx: Tx, device_id: str, file_name: str) -> Callable[[], Awaitable[None]] | None:
        """A new ``file`` announcement (a file uploaded before it was announced); may return work to run once
        that transaction committed."""

    def camera_held(self, tx: Tx, device_id: str, *, file_name: str | None = None,
                    covering: datetime | None = None) -> None:
        """A ``mark_important`` naming ``file_name`` or an ``sos`` at ``covering`` (device clock)."""


class EventWriter:
    def __init__(self, store: Store, alerts: AlertBus, config: BodycamConfig) -> None:
        self._store = store
        self._alerts = alerts
        self._config = config
        # Told of every stored case_tag, late ones included: footage already ingested may need re-matching.
        self.case_tag_listeners: list[CaseTagListener] = []
        self.announcement_listener: AnnouncementListener | None = None

    async def status(self, msg: CameraMessage, verdict: Verdict) -> bool:
        p = msg.payload
        assert isinstance(p, StatusPayload)
        details = p.model_dump(mode="json", include={"state", "session", "will", "serial", "model", "fw"})
        return await self._stored(lambda tx: _insert(tx, msg, verdict, f"status_{p.state}", details))

    async def event(self, msg: CameraMessage, verdict: Verdict, dev: DeviceState) -> bool:
        p = msg.payload
        details = p.model_dump(mode="json", exclude=_ENVELOPE)
        kind = str(getattr(p, "event", "event"))

        def store_it(tx: Tx) -> None:
            _insert(tx, msg, verdict, kind, details)
            listener = self.announcement_listener
            if isinstance(p, MarkImportant) and p.file_name is not None:
                footage_rows.hold(tx, dev.device_id, "marked", file_name=p.file_name)
                if listener is not None:  # footage already stored is held at once, with a custody entry
                    listener.camera_held(tx, dev.device_id, file_name=p.file_name)
            if isinstance(p, Sos):  # a file already announced that covers the SOS is kept permanently
                footage_rows.hold(tx, dev.device_id, "sos", covering=p.ts)
                if listener is not None:
                    listener.camera_held(tx, dev.device_id, covering=p.ts)

        newest = verdict is Verdict.NEW
        if isinstance(p, Sos) and newest:
            return await self._sos(msg, p, dev, store_it)
        if not await self._stored(store_it):
            return False
        if isinstance(p, CaseTag):
            await self._tell_case_tag(dev.device_id, p)
        if not newest:
            return True  # late: stored, flagged, never overrides newer state
        if isinstance(p, SosClear):
            dev.sos = False
            key = f"bodycam.sos:{dev.device_id}"
            dev.raised.pop(key, None)
            await self._alerts.clear_alert(key, f"SOS cleared on {dev.device_id}")
        elif isinstance(p, RecordStart | RecordStop):
            dev.recording = isinstance(p, RecordStart)
        elif isinstance(p, Docked | Undocked):
            dev.docked = isinstance(p, Docked)
        return True

    async def _tell_case_tag(self, device_id: str, tag: CaseTag) -> None:
        for listener in self.case_tag_listeners:
            try:
                await listener(device_id, tag.file_name, tag.ts)
            except Exception:
                # The tag is stored; the next matching run for that file still sees it.
                log.exception("case_tag listener failed for %s", device_id)

    async def _sos(self, msg: CameraMessage, p: Sos, dev: DeviceState, store_it: Any) -> bool:
        dev.sos = True
        key = f"bodycam.sos:{dev.device_id}"
        officer = f" (officer {dev.officer_no})" if dev.officer_no else ""
        gps = None if p.gps is None else p.gps.model_dump(mode="json")
        alert = Alert(key, "bodycam.sos", Severity.CRITICAL, dev.subject, f"SOS from {dev.device_id}{officer}",
                      {"device_id": dev.device_id, "officer_no": dev.officer_no, "device_ts": to_iso(p.ts),
                       "received_at": to_iso(msg.received_at), "gps": gps})
        try:
            await self._alerts.raise_alert(alert, at=msg.received_at, also=store_it,
                                           origin=f"{dev.device_id}/{p.msg_id}")
        except _AlreadyStored:
            return False
        dev.raised[key] = Severity.CRITICAL
        return True

    async def file(self, msg: CameraMessage, verdict: Verdict, dev: DeviceState) -> bool:
        p = msg.payload
        assert isinstance(p, FilePayload)
        # The file's end on the gateway clock (the device's offset removed) decides whose shift it was.
        end = dev.clock.corrected(p.end) or msg.received_at
        details = p.model_dump(mode="json", exclude=_ENVELOPE)
        deadline_after = self._config.upload_deadline
        follow_ups: list[Callable[[], Awaitable[None]]] = []

        def store_it(tx: Tx) -> None:
            follow_ups.clear()  # a retried transaction starts over
            _insert(tx, msg, verdict, "file", details)
            shift = enrolment_rows.assignment_at(tx, dev.device_id, min(end, msg.received_at))
            base = max(from_iso(shift["ends_at"]), end) if shift else max(msg.received_at, end)
            new = footage_rows.announce(
                tx, device_id=dev.device_id, file_name=p.name,
                officer_no=shift["officer_no"] if shift else p.officer_no, device_start=p.start, device_end=p.end,
                size_bytes=p.size_bytes, sha256=p.sha256, marked=p.marked,
                sos=rows.sos_between(tx, dev.device_id, p.start, p.end), announced_at=msg.received_at,
                announced_device_ts=p.ts, deadline_at=base + deadline_after)
            listener = self.announcement_listener
            if new and listener is not None and (follow_up := listener.announced(tx, dev.device_id, p.name)):
                follow_ups.append(follow_up)

        if not await self._stored(store_it):
            return False
        for follow_up in follow_ups:
            try:
                await follow_up()
            except Exception:  # the announcement and the footage's new facts are committed; matching is retried
                log.exception("after a late announcement from %s", dev.device_id)
        return True

    async def alert_overdue(self, now: datetime) -> int:
        """Warn once per file not ingested by its deadline; clear the warnings whose footage arrived."""
        for key in await self._store.read(footage_rows.fulfilled_overdue_keys):
            await self._alerts.clear_alert(key, "footage ingested")
        due = await self._store.read(lambda q: footage_rows.overdue(q, now))
        for row in due:
            ident: int = row["id"]

            def alerted(tx: Tx, ident: int = ident) -> None:
                footage_rows.mark_alerted(tx, [ident], now)

            await self._alerts.raise_alert(
                Alert(footage_rows.overdue_alert_key(row["device_id"], row["file_name"]), "bodycam.footage_overdue",
                      Severity.WARNING, f"device:{row['device_id']}",
                      f"{row['file_name']} from {row['device_id']} not ingested by {row['deadline_at']}",
                      {"device_id": row["device_id"], "officer_no": row["officer_no"], "file_name": row["file_name"],
                       "deadline_at": row["deadline_at"], "hold_reason": row["hold_reason"]}),
                at=now, also=alerted)
        if due:
            log.warning("%d announced recording(s) overdue for ingest", len(due))
        return len(due)

    async def _stored(self, fn: Any) -> bool:
        try:
            await self._store.write(fn)
        except _AlreadyStored:
            return False
        return True
