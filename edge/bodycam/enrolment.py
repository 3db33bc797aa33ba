"""Enrolment of cameras and officers, shared by the CLI and the HTTP API, with broker provisioning.

A device secret is generated here, returned once to the technician, and kept only as two hashes: ours
(HTTP uploads, ``edge.credentials``) and Mosquitto's (its password file). Every change that affects who may
connect rewrites the broker files and reloads the broker.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.bodycam.payloads.ids import OFFICER_NO_PATTERN, SERIAL_PATTERN, UNIT_NO_PATTERN, is_device_id
from edge.bodycam.provisioning import broker_hashes, request_reload, write_broker_files
from edge.config import Config
from edge.credentials import hash_secret, new_secret
from edge.store import Store, Tx, custody
from edge.store import devices as device_rows
from edge.store import enrolment as rows
from edge.store.enrolment import EnrolmentError
from edge.timeutil import to_iso, utcnow

log = logging.getLogger(__name__)

__all__ = ["Enrolled", "Enrolment", "EnrolmentError"]


@dataclass(frozen=True, slots=True)
class Enrolled:
    device_id: str
    secret: str  # shown once; not stored anywhere
    provisioned: bool  # False: this station does not manage its broker's files


def _check(pattern: str, value: str, what: str) -> None:
    if re.fullmatch(pattern, value) is None:
        raise EnrolmentError(f"{what} {value!r} does not match {pattern}")


class Enrolment:
    def __init__(self, config: Config, store: Store) -> None:
        self._config = config
        self._store = store
        self._lock = asyncio.Lock()  # one provisioning run at a time: the files are rewritten whole

    @property
    def manages_broker(self) -> bool:
        return self._config.bodycam.broker_dir is not None

    @property
    def broker_dir(self) -> Path | None:
        return self._config.bodycam.broker_dir

    async def add_device(self, device_id: str, serial: str, model: str, *, actor: str) -> Enrolled:
        if not is_device_id(device_id):
            raise EnrolmentError(f"device id {device_id!r} is not valid (letters, digits, - and _, 3-32)")
        _check(SERIAL_PATTERN, serial, "serial")
        if device_id == self._config.mqtt.username:
            raise EnrolmentError(f"{device_id!r} is the daemon's own broker account")
        secret = new_secret()
        # Both hashes are slow on purpose (PBKDF2; mosquitto_passwd is a process): off the event loop.
        ours = await asyncio.to_thread(hash_secret, secret)
        theirs = (await asyncio.to_thread(broker_hashes, {device_id: secret}))[device_id]

        def write(tx: Tx) -> None:
            existing = tx.one("SELECT removed_at FROM devices WHERE device_id = ?", (device_id,))
            if tx.scalar("SELECT 1 FROM devices WHERE serial = ? AND device_id != ? AND removed_at IS NULL",
                         (serial, device_id)):
                raise EnrolmentError(f"serial {serial} belongs to another enrolled device")
            if existing is None:
                device_rows.add(tx, device_id=device_id, serial=serial, model=model, secret_hash=ours)
            elif existing["removed_at"] is None:
                raise EnrolmentError(f"device {device_id} is enrolled already")
            else:  # re-enrolment of a removed device: new secret, history kept in the custody log
                tx.execute("UPDATE devices SET serial = ?, model = ?, secret_hash = ?, enrolled_at = ?,"
                           " removed_at = NULL WHERE device_id = ?",
                           (serial, model, ours, to_iso(utcnow()), device_id))
            rows.set_broker_account(tx, device_id, theirs, device_id=device_id)
            custody.append(tx, actor=actor, action="device.enrolled", subject=f"device:{device_id}",
                           reason="enrolment", details={"serial": serial, "model": model})

        await self._store.write(write)
        log.info("device %s enrolled by %s", device_id, actor)
        return Enrolled(device_id, secret, await self.provision())

    async def remove_device(self, device_id: str, *, actor: str) -> bool:
        def write(tx: Tx) -> bool:
            removed = rows.remove_device(tx, device_id)
            if removed:
                custody.append(tx, actor=actor, action="device.removed", subject=f"device:{device_id}",
                               reason="removal")
            return removed

        removed = await self._store.write(write)
        if removed:
            log.info("device %s removed by %s", device_id, actor)
            await self.provision()
        return removed

    async def add_officer(self, officer_no: str, name: str, unit_no: str, unit_name: str) -> dict[str, Any]:
        _check(OFFICER_NO_PATTERN, officer_no, "officer number")
        _check(UNIT_NO_PATTERN, unit_no, "unit number")
        if not name.strip() or not unit_name.strip():
            raise EnrolmentError("officer name and unit name are required")
        await self._store.write(lambda tx: rows.add_officer(
            tx, officer_no=officer_no, name=name.strip(), unit_no=unit_no, unit_name=unit_name.strip()))
        return {"officer_no": officer_no, "name": name.strip(), "unit_no": unit_no, "unit_name": unit_name.strip()}

    async def assign(self, device_id: str, officer_no: str, starts_at: datetime, ends_at: datetime, *,
                     actor: str) -> int:
        if starts_at.tzinfo is None or ends_at.tzinfo is None:
            raise EnrolmentError("shift times need a time zone (e.g. 2024-06-01T08:00:00+08:00)")
        return await self._store.write(lambda tx: rows.assign(
            tx, device_id=device_id, officer_no=officer_no, starts_at=starts_at, ends_at=ends_at, actor=actor))

    async def provision(self) -> bool:
        """Rewrite the broker's password and ACL files from the enrolment and reload it; False if unmanaged."""
        b = self._config.bodycam
        if b.broker_password_file is None or b.broker_acl_file is None:
            return False
        password_file, acl_file = b.broker_password_file, b.broker_acl_file
        async with self._lock:
            accounts = await self._store.read(rows.broker_accounts)
            m = self._config.mqtt
            await asyncio.to_thread(write_broker_files, password_file, acl_file, accounts,
                                    service_user=m.username, service_password=m.password,
                                    station_id=self._config.station.id)
            how = await asyncio.to_thread(request_reload, b)
        log.info("broker files rewritten: %d device account(s); %s", len(accounts), how)
        return True
