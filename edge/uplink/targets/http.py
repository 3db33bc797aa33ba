"""The HTTP JSON batch target: claimed payload entries to the central platform's ingest API, each answer's
receipts verified (edge/uplink/receipts.py) and turned into per-entry outcomes (edge/uplink/outcomes.py); and
the file manifest after an S3 upload, whose receipt must carry our SHA-256.

I/O over aiohttp's client (the project's HTTP library); the wire format is central_wire.py, sans-I/O. A
circuit breaker (breaker.py) stops requests to a platform that keeps failing; a certificate that does not
verify blocks the target (never retried into acceptance: an operator fixes the CA or the platform).
"""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

import aiohttp

from edge.store.uplink_queue import ClaimedEntry
from edge.timeutil import utcnow
from edge.uplink import receipts
from edge.uplink.breaker import Breaker
from edge.uplink.central_access import CentralAccess
from edge.uplink.outcomes import BatchResult, Blocked, Confirmed, Outcome, Permanent, Retry
from edge.uplink.targets import central_wire

log = logging.getLogger(__name__)

BATCH_PATH = "/api/v1/ingest/batch"
MANIFEST_PATH = "/api/v1/ingest/manifest"
MAX_ANSWER_BYTES = 8 << 20  # a receipt per item of at most 500: far below; more is not an answer of ours


class _Answer:
    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


async def _read_all(response: aiohttp.ClientResponse) -> bytes | None:
    """The whole body (a connection cut before its end raises ClientPayloadError), or None past the limit."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await response.content.read(64 * 1024):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def transport_outcome(error: BaseException) -> Retry | Blocked:
    """A request that got no complete answer. Only a certificate that does not verify is not transient."""
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        return Blocked("tls.certificate", f"the platform's certificate does not verify: {error.certificate_error}")
    if isinstance(error, aiohttp.ClientSSLError):
        return Retry("tls.handshake", f"TLS handshake failed: {error}")
    if isinstance(error, TimeoutError):
        return Retry("transport.timeout", "no complete answer within the timeout")
    if isinstance(error, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        return Retry("transport.reset", f"the connection broke during the answer: {error}")
    if isinstance(error, aiohttp.ClientConnectorError):
        return Retry("transport.connect", f"cannot connect: {error.os_error.strerror or error.os_error}")
    if isinstance(error, aiohttp.ClientOSError) and error.errno == errno.ECONNRESET:
        return Retry("transport.reset", f"the connection was reset: {error}")
    return Retry("transport.error", f"{type(error).__name__}: {error}")


class CentralTarget:
    """``async with CentralTarget(access, station_id) as target: await target.send_batch(entries)``."""

    def __init__(self, access: CentralAccess, station_id: str, *, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = utcnow) -> None:
        self.access, self.station_id = access, station_id
        self.breaker = Breaker(failures_to_open=access.breaker_failures, cooldown_s=access.breaker_cooldown_s)
        self.blocked: Blocked | None = None  # latched by a certificate or credential refusal
        self._clock, self._wall = clock, wall
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        # Plain http (loopback only, the config checks) needs no context; https always verifies.
        connector = aiohttp.TCPConnector(ssl=self.access.ssl_context or True)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=self.access.timeout_s),
            headers={"Authorization": f"Bearer {self.access.api_key}"})
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def unblock(self) -> None:
        """An operator fixed the CA or the credentials: try the platform again."""
        self.blocked = None

    # --- requests -----------------------------------------------------------------------------------
    def _gate(self) -> Outcome | None:
        if self.blocked is not None:
            return self.blocked
        now = self._clock()
        if not self.breaker.allow(now):
            return Retry("breaker.open", f"the central platform failed {self.breaker.failures} times in a row; "
                         "waiting before a probe", self.breaker.wait_s(now))
        return None

    async def _post(self, path: str, body: bytes, headers: dict[str, str]) -> _Answer | Outcome:
        if self._session is None:
            raise RuntimeError("use the target as an async context manager")
        try:
            # No redirects: the API key must not follow a Location to another host.
            async with self._session.post(self.access.url + path, data=body, allow_redirects=False, headers={
                    **headers, "Content-Type": "application/json"}) as response:
                data = await _read_all(response)
                if data is None:
                    return self._failed(Retry("answer.too_large", f"an answer over {MAX_ANSWER_BYTES} bytes"))
                answer = _Answer(response.status, dict(response.headers), data)
        except (aiohttp.ClientError, TimeoutError) as error:
            return self._failed(transport_outcome(error))
        if answer.status >= 500 and answer.status != 507:
            self.breaker.record_failure(self._clock())
        else:
            self.breaker.record_success(self._clock())
        return answer

    def _failed(self, outcome: Retry | Blocked) -> Retry | Blocked:
        self.breaker.record_failure(self._clock())
        if isinstance(outcome, Blocked):
            self.blocked = outcome
            log.error("uplink to %s blocked: %s", self.access.url, outcome.detail)
        else:
            log.info("uplink to %s: %s (%s)", self.access.url, outcome.reason, outcome.detail)
        return outcome

    def _noted(self, outcomes: Sequence[Outcome], what: str) -> None:
        """One log line per failure reason of an answer; a Blocked outcome latches the target."""
        reasons: dict[str, int] = {}
        for outcome in outcomes:
            if isinstance(outcome, Blocked) and self.blocked is None:
                self.blocked = outcome
                log.error("uplink to %s blocked: %s", self.access.url, outcome.detail)
            if not isinstance(outcome, Confirmed):
                reasons[outcome.reason] = reasons.get(outcome.reason, 0) + 1
        for reason, count in sorted(reasons.items()):
            log.warning("central answer to %s: %s (%d)", what, reason, count)

    async def send_batch(self, entries: Sequence[ClaimedEntry]) -> BatchResult:
        """Up to ``max_batch_items`` payload entries; an outcome for every entry. A body over
        ``max_batch_bytes`` is split in halves (deterministically, so each half keeps its key on retries)."""
        if not entries:
            raise ValueError("an empty batch")
        if len(entries) > self.access.max_batch_items:
            raise ValueError(f"{len(entries)} entries: at most {self.access.max_batch_items} per batch")
        batch = central_wire.build_batch(entries)
        if not batch.ids:  # every entry refused before sending
            return BatchResult(dict(batch.refused))
        if len(batch.body) > self.access.max_batch_bytes:
            return await self._split(entries, batch)
        gated = self._gate()
        if gated is not None:
            return BatchResult({**dict.fromkeys(batch.ids.values(), gated), **batch.refused})
        answer = await self._post(BATCH_PATH, batch.body, {"Idempotency-Key": batch.key})
        if not isinstance(answer, _Answer):
            return BatchResult({**dict.fromkeys(batch.ids.values(), answer), **batch.refused})
        result = central_wire.read_batch_answer(batch, key=self.access.receipt_key, station=self.station_id,
                                                status=answer.status, headers=answer.headers, body=answer.body,
                                                now=self._wall())
        for anomaly in result.anomalies:
            log.warning("central answer to batch %s: %s: %s", batch.key[:14], anomaly.reason, anomaly.detail)
        self._noted(list(result.outcomes.values()), f"batch {batch.key[:14]}")
        return result

    async def _split(self, entries: Sequence[ClaimedEntry], batch: central_wire.Batch) -> BatchResult:
        sendable = sorted((e for e in entries if e.id not in batch.refused), key=lambda e: e.idempotency_key)
        if len(sendable) == 1:
            too_large = Permanent("uplink.too_large", f"one item of {len(batch.body)} bytes; the platform takes "
                                  f"at most {self.access.max_batch_bytes} per request")
            self._noted([too_large], "a batch not sent")
            return BatchResult({sendable[0].id: too_large, **batch.refused})
        half = len(sendable) // 2
        first, second = await self.send_batch(sendable[:half]), await self.send_batch(sendable[half:])
        return BatchResult({**first.outcomes, **second.outcomes, **batch.refused},
                           first.anomalies + second.anomalies, first.replayed and second.replayed)

    async def send_manifest(self, sent: receipts.SentFile) -> Outcome:
        """After the S3 upload completed: the platform reads the object back; its receipt must be ours."""
        gated = self._gate()
        if gated is not None:
            return gated
        answer = await self._post(MANIFEST_PATH, central_wire.manifest_body(self.station_id, sent), {})
        if not isinstance(answer, _Answer):
            return answer
        outcome = central_wire.read_manifest_answer(sent, key=self.access.receipt_key, station=self.station_id,
                                                    status=answer.status, headers=answer.headers, body=answer.body,
                                                    now=self._wall())
        self._noted([outcome], f"the manifest of {sent.bucket}/{sent.key}")
        return outcome
