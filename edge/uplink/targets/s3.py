"""Footage to an S3-compatible store by multipart upload (MinIO, Ceph, SeaweedFS): the only aiobotocore user.

One stored file goes in parts of the configured size. Each part is read and hashed in a small thread pool
(the event loop never blocks on the disk), sent with its Content-MD5, and recorded (number, size, ETag,
SHA-256) in a durable write before the next part starts: a SIGKILL wastes at most the part in flight. On
resume the recorded parts are reconciled with ListParts (paged, 1,000 at a time); a part the store lists with
another ETag, or not at all, is sent again. A store that purged the upload (NoSuchUpload) makes the target
forget the plan and start a new upload.

Object keys: ``stations/{station_id}/footage/{yyyy}/{mm}/{dd}/{sha256}.mp4`` (the recording's UTC day); the
object's metadata carries ``sha256`` (``x-amz-meta-sha256``), ``station-id`` and ``idempotency-key``.
Failures come out as ``edge.uplink.targets.s3_errors`` classes. Nothing here retries: the drain does.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from edge.store import uplink_parts
from edge.store.database import Store
from edge.store.outbox import FileRef
from edge.store.uplink_parts import PartRecord, UploadPlan
from edge.timeutil import utcnow
from edge.uplink.receipts import SentFile
from edge.uplink.s3_config import S3Config
from edge.uplink.targets.s3_errors import S3Failure, S3PartMismatch, S3Permanent, S3Transient, classify

log = logging.getLogger(__name__)

LIST_PAGE = 1000  # S3's ListParts page; SeaweedFS would answer up to 10,000 unless asked
Progress = Callable[[int, int], None]  # (bytes the store holds, file size)
# Awaited before each part with (part number, size): where the drain charges the byte budget and yields to
# critical entries (a part boundary); raising there stops the upload with everything sent so far recorded.
PartGate = Callable[[int, int], Awaitable[None]]


class CredentialsError(ValueError):
    """The secret files the config names cannot give a key pair; the message names the file."""


@dataclass(frozen=True, slots=True)
class S3Credentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)

    @classmethod
    def from_files(cls, config: S3Config) -> S3Credentials:
        return cls(_secret(config.access_key_id_file, "uplink.s3.access_key_id_file"),
                   _secret(config.secret_access_key_file, "uplink.s3.secret_access_key_file"))


def _secret(path: Path, key: str) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CredentialsError(f"{key}: cannot read secret file {path}: {exc.strerror or exc}") from None
    if not value:
        raise CredentialsError(f"{key}: secret file {path} is empty")
    return value


def object_key(station_id: str, sha256: str, recorded: date) -> str:
    """Content-addressed under the station and the recording's day: re-sending the same bytes lands on the
    same key, and a day's footage lists together."""
    return f"stations/{station_id}/footage/{recorded:%Y/%m/%d}/{sha256}.mp4"


@dataclass(frozen=True, slots=True)
class UploadResult:
    bucket: str
    key: str
    etag: str
    size: int
    sha256: str
    parts_sent: tuple[int, ...]  # part numbers this call sent (a resumed call sends only what was missing)
    parts_kept: int  # parts found on the store from an earlier run and not sent again
    replanned: bool  # the earlier upload was gone (NoSuchUpload) or stale, and a new one was started

    def sent_file(self, dedupe_key: str) -> SentFile:
        """What the manifest to the central platform names (``CentralTarget.send_manifest``)."""
        return SentFile(dedupe_key, self.bucket, self.key, self.size, self.sha256)


@dataclass(frozen=True, slots=True)
class _Part:
    data: bytes
    sha256: str
    md5_hex: str
    md5_b64: str


def _read_part(path: Path, offset: int, size: int) -> _Part:
    """Runs in the target's thread pool: one part's bytes and digests."""
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read(size)
    if len(data) != size:
        raise EOFError(f"{path} has {offset + len(data)} bytes where {offset + size} were expected")
    md5 = hashlib.md5(data, usedforsecurity=False)  # S3's integrity check per part, not a security hash
    return _Part(data, hashlib.sha256(data).hexdigest(), md5.hexdigest(), base64.b64encode(md5.digest()).decode())


def _latest(uploads: list[tuple[Any, str, int]]) -> tuple[str, int] | None:
    if len(uploads) == 1:
        return uploads[0][1], uploads[0][2]
    if any(when is None for when, _, _ in uploads):
        return None
    newest = max(when for when, _, _ in uploads)
    latest = {(etag, size) for when, etag, size in uploads if when == newest}
    return latest.pop() if len(latest) == 1 else None


def _error_code(error: BaseException) -> str:
    return str(error.response.get("Error", {}).get("Code", "")) if isinstance(error, ClientError) else ""


def client_config(config: S3Config) -> AioConfig:
    """Checksums only "when required" (recent SDKs add CRC checksums that S3-compatible stores refuse);
    path-style addressing (bucket names need no DNS); no retries inside botocore: the drain retries with its
    own backoff, breaker and Retry-After, and a hidden retry would only delay what it sees."""
    return AioConfig(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                     response_checksum_validation="when_required",
                     retries={"total_max_attempts": 1, "mode": "standard"},
                     connect_timeout=config.connect_timeout_s, read_timeout=config.read_timeout_s)


class S3FootageTarget:
    """``async with S3FootageTarget(...) as target: await target.upload(...)``; one client for many uploads."""

    def __init__(self, config: S3Config, credentials: S3Credentials, store: Store, *, station_id: str) -> None:
        self._config = config
        self._credentials = credentials
        self._store = store
        self._station_id = station_id
        self._stack = contextlib.AsyncExitStack()
        self._s3: Any = None
        self._pool: ThreadPoolExecutor | None = None

    async def __aenter__(self) -> S3FootageTarget:
        self._pool = ThreadPoolExecutor(self._config.read_threads, thread_name_prefix="s3-read")
        self._s3 = await self._stack.enter_async_context(get_session().create_client(
            "s3", endpoint_url=self._config.endpoint_url, region_name=self._config.region,
            aws_access_key_id=self._credentials.access_key_id,
            aws_secret_access_key=self._credentials.secret_access_key, config=client_config(self._config),
            # Always verified: against the configured bundle, else the system's CAs; never switched off.
            verify=str(self._config.ca_file) if self._config.ca_file is not None else True))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._s3 = None

    @property
    def bucket(self) -> str:
        return self._config.bucket

    async def upload(self, entry_id: int, file: FileRef, *, recorded: date, idempotency_key: str,
                     progress: Progress | None = None, before_part: PartGate | None = None) -> UploadResult:
        """Send the entry's file, resuming its earlier upload if the store still has it. Raises an
        ``S3Failure`` (transient or permanent) when it cannot finish now."""
        try:
            return await self._upload(entry_id, file, recorded, idempotency_key, progress, before_part)
        except (ClientError, BotoCoreError, OSError, TimeoutError) as error:
            raise classify(error, doing=f"upload of outbox entry {entry_id}") from error

    async def _upload(self, entry_id: int, file: FileRef, recorded: date, idempotency_key: str,
                      progress: Progress | None, before_part: PartGate | None) -> UploadResult:
        plan = await self._store.read(lambda q: uplink_parts.plan_of(q, entry_id))
        replanned = False
        if plan is not None and (plan.file_sha256 != file.sha256 or plan.file_size != file.size):
            log.warning("outbox entry %d: the file changed since its upload began; starting again", entry_id)
            await self._abandon(plan)
            plan, replanned = None, True
        if plan is not None and plan.completed:
            done = await self._finished_object(plan)
            if done is not None:
                return self._result(plan, done, (), plan.part_count, replanned)
            await self._store.write(lambda tx: uplink_parts.forget(tx, entry_id))
            plan = None
        kept: dict[int, PartRecord] = {}
        if plan is not None:
            reconciled = await self._reconcile(plan)
            if reconciled is None:  # the store no longer has the upload
                done = await self._finished_object(plan)
                if done is not None:  # completed before a crash that left it unrecorded
                    await self._store.write(lambda tx: uplink_parts.mark_completed(
                        tx, entry_id, object_etag=done, now=utcnow()))
                    return self._result(plan, done, (), plan.part_count, replanned)
                log.warning("outbox entry %d: the store has no upload %s any more (NoSuchUpload: purged or "
                            "aborted); planning a new one", entry_id, plan.upload_id)
                await self._abandon(plan)
                plan, replanned = None, True
            else:
                kept = reconciled
        if plan is None:
            if not file.path.is_file():  # before an upload is opened on the store for nothing
                raise S3Permanent("file.missing", f"outbox entry {entry_id}: {file.path} is gone")
            plan = await self._start(entry_id, file, recorded, idempotency_key)
        sent = await self._send_missing(plan, file.path, kept, progress, before_part)
        etag = await self._complete(plan)
        return self._result(plan, etag, sent, len(kept), replanned)

    def _result(self, plan: UploadPlan, etag: str, sent: tuple[int, ...], kept: int, replanned: bool) -> UploadResult:
        return UploadResult(plan.bucket, plan.key, etag, plan.file_size, plan.file_sha256, sent, kept, replanned)

    async def _start(self, entry_id: int, file: FileRef, recorded: date, idempotency_key: str) -> UploadPlan:
        try:
            part_size = self._config.part_size_for(file.size)
        except ValueError as exc:
            raise S3Permanent("s3.too_many_parts", f"outbox entry {entry_id}: {exc}") from None
        key = object_key(self._station_id, file.sha256, recorded)
        answer = await self._s3.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType="video/mp4",
            Metadata={"sha256": file.sha256, "station-id": self._station_id, "idempotency-key": idempotency_key})
        plan = UploadPlan(entry_id, self.bucket, key, answer["UploadId"], part_size, file.size, file.sha256)
        await self._store.write(lambda tx: uplink_parts.save_plan(tx, plan, now=utcnow()))
        log.info("outbox entry %d: multipart upload %s to %s/%s, %d part(s) of %d bytes", entry_id,
                 plan.upload_id, plan.bucket, plan.key, plan.part_count, part_size)
        return plan

    async def list_parts(self, plan: UploadPlan, *, page_size: int = LIST_PAGE) -> dict[int, tuple[str, int] | None]:
        """{part number: (ETag, size)} of every part the store holds for the upload, paging with
        PartNumberMarker; raises ClientError (NoSuchUpload) when the upload is gone.

        A part sent more than once counts as its latest upload (SeaweedFS lists superseded ones too); when
        that is ambiguous (several uploads in the same second, LastModified's resolution) the value is None
        and the part is sent again."""
        found: dict[int, list[tuple[Any, str, int]]] = {}
        marker = 0
        while True:
            page = await self._s3.list_parts(Bucket=plan.bucket, Key=plan.key, UploadId=plan.upload_id,
                                             MaxParts=page_size, PartNumberMarker=marker)
            for part in page.get("Parts", []):
                found.setdefault(int(part["PartNumber"]), []).append(
                    (part.get("LastModified"), str(part["ETag"]), int(part["Size"])))
            following = int(page.get("NextPartNumberMarker") or 0)
            if not page.get("IsTruncated") or following <= marker:
                return {number: _latest(uploads) for number, uploads in found.items()}
            marker = following

    async def _reconcile(self, plan: UploadPlan) -> dict[int, PartRecord] | None:
        """The recorded parts the store holds as recorded; the others are dropped, to be sent again.
        None when the store has no such upload."""
        try:
            listed = await self.list_parts(plan)
        except ClientError as error:
            if _error_code(error) == "NoSuchUpload":
                return None
            raise
        recorded = await self._store.read(lambda q: uplink_parts.parts_of(q, plan.entry_id))
        kept = {p.number: p for p in recorded if listed.get(p.number) == (p.etag, p.size)}
        stale = [p.number for p in recorded if p.number not in kept]
        if stale:
            log.warning("outbox entry %d: part(s) %s are not on the store as recorded; sending them again",
                        plan.entry_id, ", ".join(map(str, stale)))
            await self._store.write(lambda tx: uplink_parts.drop_parts(tx, plan.entry_id, stale))
        return kept

    async def _send_missing(self, plan: UploadPlan, path: Path, kept: dict[int, PartRecord],
                            progress: Progress | None, before_part: PartGate | None) -> tuple[int, ...]:
        loop = asyncio.get_running_loop()
        done = sum(p.size for p in kept.values())
        if progress is not None:
            progress(done, plan.file_size)
        sent: list[int] = []
        for number in range(1, plan.part_count + 1):
            if number in kept:
                continue
            offset, size = plan.part_span(number)
            if before_part is not None:
                await before_part(number, size)
            try:
                part = await loop.run_in_executor(self._pool, _read_part, path, offset, size)
            except FileNotFoundError:
                raise S3Permanent("file.missing", f"outbox entry {plan.entry_id}: {path} is gone") from None
            except (EOFError, OSError) as exc:
                raise S3Permanent("file.unreadable", f"outbox entry {plan.entry_id}: {exc}") from None
            etag = await self._send_part(plan, number, part)
            await self._record(plan, PartRecord(number, size, etag, part.sha256))
            sent.append(number)
            done += size
            if progress is not None:
                progress(done, plan.file_size)
        return tuple(sent)

    async def _record(self, plan: UploadPlan, part: PartRecord) -> None:
        await self._store.write(lambda tx: uplink_parts.record_part(tx, plan.entry_id, part,
                                                                    upload_id=plan.upload_id, now=utcnow()))

    async def _send_part(self, plan: UploadPlan, number: int, part: _Part) -> str:
        try:
            answer = await self._s3.upload_part(Bucket=plan.bucket, Key=plan.key, UploadId=plan.upload_id,
                                                PartNumber=number, Body=part.data, ContentLength=len(part.data),
                                                ContentMD5=part.md5_b64)
        except ClientError as error:
            if _error_code(error) == "NoSuchUpload":
                await self._store.write(lambda tx: uplink_parts.forget(tx, plan.entry_id))
                raise S3Transient("s3.no_such_upload", f"outbox entry {plan.entry_id}: upload {plan.upload_id} "
                                  f"vanished during part {number}; the next attempt plans a new one") from error
            raise
        etag = str(answer["ETag"])
        bare = etag.strip('"').lower()
        # A plain (unencrypted) part's ETag is its MD5; another 32-hex value means other bytes arrived.
        if len(bare) == 32 and all(c in "0123456789abcdef" for c in bare) and bare != part.md5_hex:
            raise S3PartMismatch("s3.part_etag_mismatch", f"outbox entry {plan.entry_id}: part {number} came back "
                                 f"with ETag {bare}, not the MD5 {part.md5_hex} of the bytes sent")
        return etag

    async def _complete(self, plan: UploadPlan) -> str:
        parts = await self._store.read(lambda q: uplink_parts.parts_of(q, plan.entry_id))
        if [p.number for p in parts] != list(range(1, plan.part_count + 1)):
            raise S3Transient("s3.parts_missing", f"outbox entry {plan.entry_id}: parts recorded "
                              f"{[p.number for p in parts]}, expected 1..{plan.part_count}")
        answer = await self._s3.complete_multipart_upload(
            Bucket=plan.bucket, Key=plan.key, UploadId=plan.upload_id,
            MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]})
        etag = str(answer.get("ETag", ""))
        await self._store.write(lambda tx: uplink_parts.mark_completed(tx, plan.entry_id, object_etag=etag,
                                                                       now=utcnow()))
        log.info("outbox entry %d: %s/%s complete (%d bytes)", plan.entry_id, plan.bucket, plan.key, plan.file_size)
        return etag

    async def _finished_object(self, plan: UploadPlan) -> str | None:
        """The object's ETag if the key already holds this file (same size and SHA-256 metadata)."""
        try:
            head = await self._s3.head_object(Bucket=plan.bucket, Key=plan.key)
        except ClientError as error:
            if _error_code(error) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        same = (int(head.get("ContentLength", -1)) == plan.file_size
                and head.get("Metadata", {}).get("sha256") == plan.file_sha256)
        return str(head.get("ETag", "")) if same else None

    async def _abandon(self, plan: UploadPlan) -> None:
        """Abort the old upload where the store still has it (frees its parts) and forget the plan."""
        with contextlib.suppress(ClientError, BotoCoreError):
            await self._s3.abort_multipart_upload(Bucket=plan.bucket, Key=plan.key, UploadId=plan.upload_id)
        await self._store.write(lambda tx: uplink_parts.forget(tx, plan.entry_id))


__all__ = ["CredentialsError", "PartGate", "Progress", "S3Credentials", "S3Failure", "S3FootageTarget",
           "UploadResult", "object_key"]
