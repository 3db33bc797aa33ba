"""The checkpoint service: signs the custody log's head every N entries and every M minutes.

It looks at the head about once a second (one indexed read) and writes a checkpoint once
``checkpoint_every_entries`` entries were appended since the last one, or ``checkpoint_every_minutes``
passed while the head moved. On a clean stop it writes one more if the head moved, so a shutdown
leaves the newest entries anchored. Each checkpoint is queued in the outbox at evidence priority.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.custody import keys
from edge.custody.chain import Checkpoint, checkpoint_message
from edge.custody.config import CustodyConfig
from edge.store import Store, checkpoints
from edge.supervisor import Service
from edge.timeutil import to_iso, utcnow

log = logging.getLogger(__name__)


class CheckpointService(Service):
    name = "custody.checkpoints"

    def __init__(self, config: CustodyConfig, store: Store, station_id: str, data_dir: Path, *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.config = config
        self.store = store
        self.station_id = station_id
        self.key_path = config.key_path(data_dir)
        self._clock = clock
        self._key: Ed25519PrivateKey | None = None
        self._public = ""
        self._last_seq = 0
        self._last_at: datetime | None = None
        self._every = timedelta(minutes=config.checkpoint_every_minutes)
        # Look often enough to honour a short interval, never more than once a second.
        self._poll_s = min(1.0, self._every.total_seconds() / 4)
        self.written = 0

    async def __aenter__(self) -> CheckpointService:
        # Only the default location is created; a key file the config names must already exist.
        named = self.config.key_file is not None
        if named and not self.key_path.exists():
            raise keys.StationKeyError(f"custody.key_file {self.key_path} does not exist (a key file the config "
                                       "names is never created; unset key_file for one in the data directory)")
        self._key = await asyncio.to_thread(keys.load_or_create, self.key_path, create=not named)
        self._public = keys.public_b64(self._key)
        last = await self.store.read(checkpoints.latest)
        self._last_seq = last.seq if last else 0
        self._last_at = datetime.fromisoformat(last.at) if last else self._clock()
        log.info("custody checkpoints: key %s, last checkpoint at entry %d", keys.fingerprint(self._public),
                 self._last_seq)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._key is None or not self.store.is_open:
            return
        head = await self.store.read(checkpoints.head)
        if head is not None and head.seq > self._last_seq:
            await self.checkpoint_now()

    async def serve(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            head = await self.store.read(checkpoints.head)
            if head is None or head.seq <= self._last_seq:
                continue
            due_by_count = head.seq - self._last_seq >= self.config.checkpoint_every_entries
            due_by_time = self._last_at is None or self._clock() - self._last_at >= self._every
            if due_by_count or due_by_time:
                await self.checkpoint_now()

    async def checkpoint_now(self) -> Checkpoint | None:
        """Sign the current head now (None if no entry is newer than the last checkpoint)."""
        cp = await self.store.write(lambda tx: checkpoints.checkpoint_head(tx, self._sign))
        if cp is not None:
            self._last_seq, self._last_at = cp.seq, datetime.fromisoformat(cp.at)
            self.written += 1
            log.info("custody checkpoint at entry %d signed", cp.seq)
        return cp

    def _sign(self, head: checkpoints.Head) -> Checkpoint:
        assert self._key is not None
        at = to_iso(self._clock())
        signature = keys.sign(self._key, checkpoint_message(self.station_id, head.seq, head.hash, at))
        return Checkpoint(head.seq, head.hash, at, self.station_id, self._public, signature)
