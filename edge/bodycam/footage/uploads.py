"""Resumable uploads (the protocol logic behind the tus routes): create, status, receive, terminate.

The durable offset is the ``received`` column: it only moves after the bytes before it were fsynced, at
the end of each request and every ``checkpoint_bytes`` within one. Bytes past it (a request cut by a crash)
are cut on the next request, so an offset reported to the client is always backed by the disk.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import hashlib
import logging
import re
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from edge.bodycam.footage import accounting
from edge.bodycam.footage.committer import Ingestor, Outcome
from edge.bodycam.footage.config import FootageConfig
from edge.bodycam.footage.disk import DiskGuard, insufficient
from edge.bodycam.footage.layout import Layout
from edge.bodycam.footage.metrics import FootageMetrics
from edge.bodycam.footage.sink import PartialFile
from edge.store import Store, Tx, custody
from edge.store import footage as rows
from edge.web.problems import ProblemError

log = logging.getLogger(__name__)
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
# Upload ids are ``secrets.token_hex(16)``; anything else was never issued here.
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
# Sessions kept between requests (a lock and the running hash, so a resumed upload is not re-read). Past
# this many the least recently used idle one is dropped; its hash is rebuilt from disk if it comes back.
MAX_IDLE_SESSIONS = 256


@dataclass(frozen=True, slots=True)
class NewUpload:
    device_id: str
    actor: str
    file_name: str
    length: int
    sha256: str
    marked: bool
    recorded_at: str | None


@dataclass(frozen=True, slots=True)
class Received:
    offset: int
    outcome: Outcome | None = None  # set once the upload is complete


@dataclass
class _Session:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    partial: PartialFile | None = None


def _gone(ingest_id: str) -> ProblemError:
    return ProblemError(404, "upload-not-found", f"no upload {ingest_id} (unknown or terminated)")


def check_upload_id(ingest_id: str) -> str:
    """Refuse what cannot be an upload id before it reaches the database or any per-upload state."""
    if _UPLOAD_ID.fullmatch(ingest_id) is None:
        raise ProblemError(400, "invalid-upload-id", "an upload id is 32 lowercase hex digits, as issued in "
                           "the Location of POST /api/v1/uploads")
    return ingest_id


def _finished(ingest: dict[str, Any], verb: str) -> ProblemError:
    return ProblemError(409, "upload-complete", f"upload is {ingest['state']}; {verb}",
                        footage_id=ingest["footage_id"])


class UploadManager:
    def __init__(self, store: Store, layout: Layout, ingestor: Ingestor, disk: DiskGuard, config: FootageConfig,
                 executor: Executor, metrics: FootageMetrics) -> None:
        self._store = store
        self._layout = layout
        self._ingestor = ingestor
        self._disk = disk
        self._config = config
        self._executor = executor
        self._metrics = metrics
        self._sessions: OrderedDict[str, _Session] = OrderedDict()

    @property
    def session_count(self) -> int:
        """Per-upload state held in memory (metrics, tests)."""
        return len(self._sessions)

    def _refuse(self, reason: str, error: ProblemError) -> ProblemError:
        self._metrics.refused.labels(reason).inc()
        return error

    async def create(self, new: NewUpload) -> tuple[str, Outcome | None]:
        """Register an upload; if its declared content is already stored, it is complete at once."""
        if new.length > self._config.max_upload_bytes:
            raise self._refuse("too-large", ProblemError(
                413, "upload-too-large", f"Upload-Length {new.length} exceeds the maximum "
                f"{self._config.max_upload_bytes}"))
        # Under the content lock, as ingest and retention decide: retention may not delete the stored copy
        # between "already stored" and the custody entry that completes this upload on it.
        async with self._ingestor.locks.hold(new.sha256):
            return await self._create(new)

    async def _create(self, new: NewUpload) -> tuple[str, Outcome | None]:
        ingest_id = secrets.token_hex(16)
        existing = await self._store.read(lambda q: rows.good_by_sha(q, new.sha256))
        if existing is None:
            try:
                # Only the camera's own announcement makes an upload evidence here, never its metadata.
                self._disk.admit(new.length, evidence=await self._announced_hold(
                    new.device_id, new.file_name, new.length, new.sha256))
            except ProblemError as exc:
                raise self._refuse("insufficient-storage", exc) from None
        values = {"id": ingest_id, "source": "upload", "device_id": new.device_id, "actor": new.actor,
                  "file_name": new.file_name, "length": new.length, "declared_sha256": new.sha256,
                  "marked": int(new.marked), "recorded_at": new.recorded_at}
        await self._store.write(lambda tx: rows.ingest_create(tx, values))
        if existing is not None:
            # Same content already stored (dedupe by hash): nothing needs to travel again.
            ingest = await self._get(ingest_id)
            return ingest_id, await self._ingestor.declared_duplicate(ingest, existing)
        await asyncio.get_running_loop().run_in_executor(
            self._executor, self._layout.upload_part(ingest_id).touch, 0o600)
        return ingest_id, None

    async def _announced_hold(self, device_id: str, file_name: str, length: int, sha256: str) -> bool:
        reason = await self._store.read(lambda q: accounting.announced_hold(
            q, device_id=device_id, file_name=file_name, size=length, sha256=sha256))
        return reason is not None

    async def _get(self, ingest_id: str) -> dict[str, Any]:
        check_upload_id(ingest_id)
        ingest = await self._store.read(lambda q: rows.ingest_get(q, ingest_id))
        if ingest is None or ingest["source"] != "upload" or ingest["state"] == "terminated":
            raise _gone(ingest_id)
        return ingest

    @contextlib.asynccontextmanager
    async def _exclusive(self, ingest_id: str, verb: str) -> AsyncIterator[tuple[_Session, dict[str, Any]]]:
        """One writing request per upload: a second one gets 423 at once rather than queueing behind it.

        State is created only for an upload that exists and is still receiving: a well-formed id is checked
        against the database first, and a malformed one never gets that far."""
        if (found := await self._get(ingest_id))["state"] != "receiving":
            raise _finished(found, verb)
        session = self._sessions.get(ingest_id)
        if session is None:
            self._evict_idle()
            session = self._sessions[ingest_id] = _Session()
        self._sessions.move_to_end(ingest_id)
        if session.lock.locked():
            raise ProblemError(423, "upload-in-progress", "another request is writing to this upload")
        async with session.lock:
            try:  # again under the lock: another request may have finished or terminated it meanwhile
                ingest = await self._get(ingest_id)
                if ingest["state"] != "receiving":
                    raise _finished(ingest, verb)
            except ProblemError:
                self._sessions.pop(ingest_id, None)
                raise
            yield session, ingest

    def _evict_idle(self) -> None:
        for key in [k for k, s in self._sessions.items() if not s.lock.locked()]:
            if len(self._sessions) < MAX_IDLE_SESSIONS:
                return
            del self._sessions[key]

    async def status(self, ingest_id: str, *, settle_s: float = 5.0) -> dict[str, Any]:
        """The upload's row; waits (briefly) for a request still writing, e.g. one whose sender just vanished,
        so that a client resuming after a cut gets the offset that request reached."""
        check_upload_id(ingest_id)
        session = self._sessions.get(ingest_id)
        if session is not None and session.lock.locked():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(settle_s), session.lock:
                    pass
        return await self._get(ingest_id)

    async def receive(self, ingest_id: str, offset: int, body: AsyncIterator[list[bytes]],
                      content_length: int | None, checksum: tuple[str, bytes] | None) -> Received:
        async with self._exclusive(ingest_id, "nothing more is taken") as (session, ingest):
            durable = ingest["received"]
            if offset != durable:
                raise ProblemError(409, "offset-mismatch",
                                   f"Upload-Offset {offset} does not match the server's offset {durable}; "
                                   "ask with HEAD and resume from there", upload_offset=durable)
            if content_length is not None and durable + content_length > ingest["length"]:
                raise self._refuse("exceeds-length", ProblemError(
                    413, "exceeds-upload-length", f"{content_length} bytes at offset {durable} would pass the "
                    f"declared Upload-Length {ingest['length']}", upload_offset=durable))
            if not await self._announced_hold(ingest["device_id"], ingest["file_name"], ingest["length"],
                                              ingest["declared_sha256"]):
                try:
                    self._disk.admit(ingest["length"] - durable, evidence=False)
                except ProblemError as exc:
                    raise self._refuse("insufficient-storage", exc) from None
            self._metrics.active_uploads.inc()
            try:
                return await self._receive(session, ingest, durable, body, checksum)
            finally:
                self._metrics.active_uploads.dec()

    async def _receive(self, session: _Session, ingest: dict[str, Any], durable: int,
                       body: AsyncIterator[list[bytes]], checksum: tuple[str, bytes] | None) -> Received:
        ingest_id, length = ingest["id"], ingest["length"]
        partial = session.partial or PartialFile(self._layout.upload_part(ingest_id), self._executor)
        session.partial = partial
        await partial.open(durable)
        request_hash = hashlib.new(checksum[0]) if checksum else None
        start_state = partial.hasher_copy() if checksum else None
        since_checkpoint = 0
        try:
            try:
                async for chunks in body:
                    size = sum(len(c) for c in chunks)
                    if partial.position + size > length:
                        raise self._refuse("exceeds-length", ProblemError(
                            413, "exceeds-upload-length",
                            f"the body runs past the declared Upload-Length {length}; the request was discarded"))
                    await partial.write(chunks, request_hash)
                    self._metrics.bytes_received.inc(size)
                    since_checkpoint += size
                    # A checksummed request is all-or-nothing, so it is not checkpointed half-way.
                    if since_checkpoint >= self._config.checkpoint_bytes and checksum is None:
                        durable = await self._checkpoint(partial, ingest_id)
                        since_checkpoint = 0
            except ProblemError:
                await partial.rollback(durable)
                raise
            except (ConnectionError, asyncio.IncompleteReadError, EOFError) as exc:
                # The sender went away: keep every byte that arrived, the client resumes from HEAD.
                log.info("upload %s: connection lost at %d (%s)", ingest_id, partial.position, exc)
            except OSError as exc:
                await partial.rollback(durable)
                if exc.errno in _NO_SPACE:
                    state = await self._disk.check()
                    log.warning("upload %s: footage disk full at offset %d", ingest_id, durable)
                    raise self._refuse("disk-full", insufficient(
                        "the footage disk filled during this request; the upload is kept at its last durable "
                        "offset and can resume when space is free", state)) from exc
                raise
            if checksum is not None and request_hash is not None and request_hash.digest() != checksum[1]:
                await partial.rollback(durable, start_state)
                raise self._refuse("checksum-mismatch", ProblemError(
                    460, "checksum-mismatch", f"Upload-Checksum ({checksum[0]}) does not match the request body; "
                    "the request was discarded", upload_offset=durable))
            durable = await self._checkpoint(partial, ingest_id)
        finally:
            partial.close()
        if durable < length:
            return Received(durable)
        computed = partial.hexdigest()
        self._sessions.pop(ingest_id, None)
        return Received(durable, await self._ingestor.finalize(ingest, partial.path, computed))

    async def _checkpoint(self, partial: PartialFile, ingest_id: str) -> int:
        await partial.sync()
        position = partial.position
        await self._store.write(lambda tx: rows.ingest_update(tx, ingest_id, received=position))
        return position

    async def terminate(self, ingest_id: str, actor: str) -> None:
        """tus termination: drop an unfinished upload. Finished ones are footage and are never removed."""
        async with self._exclusive(ingest_id, "footage is never deleted through the upload API") as (_, ingest):

            def write(tx: Tx) -> None:
                rows.ingest_update(tx, ingest_id, state="terminated")
                custody.append(tx, actor=actor, action="upload.terminated", subject=f"upload:{ingest_id}",
                               reason="unfinished upload cancelled by its sender",
                               details={"received": ingest["received"], "length": ingest["length"],
                                        "file_name": ingest["file_name"], "device_id": ingest["device_id"]})

            await self._store.write(write)
            self._sessions.pop(ingest_id, None)
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(self._layout.upload_part(ingest_id).unlink)


def decode_checksum(header: str) -> tuple[str, bytes]:
    """``Upload-Checksum: sha256 <base64>`` (tus checksum extension)."""
    algorithm, _, encoded = header.strip().partition(" ")
    algorithm = algorithm.lower().replace("-", "")
    if algorithm not in ("sha1", "sha256", "md5"):
        raise ProblemError(400, "unsupported-checksum-algorithm", f"checksum algorithm {algorithm!r} is not "
                           "supported (sha256, sha1, md5)")
    try:
        return algorithm, base64.b64decode(encoded.strip(), validate=True)
    except ValueError:
        raise ProblemError(400, "invalid-checksum", "Upload-Checksum value is not base64") from None
