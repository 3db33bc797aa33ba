"""The central platform's ingest side, simulated: JSON batches with idempotency, file manifests verified by
reading the object back from S3, signed receipts, station API keys, and faults on demand (faults.py).

``add_ingest_routes(state)`` returns a route adder for ``build_app`` (app.py). Wire format: docs/simulators.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import socket
import struct
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from devices.simulators.central import receipts
from devices.simulators.central.faults import Fault, FaultPlan, FaultSpecError
from devices.simulators.central.ingest_input import (
    Problem,
    idempotency_key,
    parse_batch,
    parse_json,
    parse_manifest,
)
from devices.simulators.central.object_store import ObjectMissing, StoreAccess, StoreUnavailable, digest_object
from devices.simulators.central.receipts import payload_digest
from edge.timeutil import to_iso, utcnow

Answer = tuple[int, dict[str, Any], dict[str, str]]


@dataclass
class IngestSettings:
    station_keys: dict[str, str]  # station id -> API key
    receipt_key: bytes
    store: StoreAccess | None = None  # the S3 store manifests are checked against (read-only identity)
    buckets: tuple[str, ...] = ("footage",)
    receipt_key_id: str = "central-1"
    max_items: int = 500
    max_body_bytes: int = 1 << 20

    @classmethod
    def from_files(cls, keys_file: Path, receipt_key_file: Path, **options: Any) -> IngestSettings:
        """``keys_file``: JSON ``{"<station id>": "<api key>"}``; ``receipt_key_file``: the HMAC key's bytes
        (surrounding whitespace stripped)."""
        try:
            keys = json.loads(keys_file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{keys_file}: not JSON ({exc})") from exc
        if not isinstance(keys, dict) or not keys or not all(isinstance(v, str) and v for v in keys.values()):
            raise ValueError(f"{keys_file}: expected a JSON object of station id -> API key")
        receipt_key = receipt_key_file.read_bytes().strip()
        if len(receipt_key) < 16:
            raise ValueError(f"{receipt_key_file}: a receipt key needs at least 16 bytes")
        return cls(station_keys=keys, receipt_key=receipt_key, **options)


@dataclass
class IngestState:
    settings: IngestSettings
    plan: FaultPlan = field(default_factory=FaultPlan)
    batches: dict[tuple[str, str], tuple[str, dict[str, Any]]] = field(default_factory=dict)
    items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (station, dedupe) -> receipt
    manifests: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=lambda: {"batch": 0, "manifest": 0})
    go_down: Callable[[float], None] | None = None  # set by the listener (run.py)

    def station_for(self, authorization: str | None) -> str:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and key:
            for station, expected in self.settings.station_keys.items():
                if hmac.compare_digest(expected.encode(), key.strip().encode()):
                    return station
        raise Problem(401, "unauthorized", "missing or unknown station API key", {"WWW-Authenticate": "Bearer"})

    def arm(self, fault: Fault) -> None:
        """A ``down`` fault acts at once (the listener stops accepting); the others wait for requests."""
        if fault.kind == "down":
            if self.go_down is None:
                raise FaultSpecError("down needs the simulator's listener (start_central)")
            self.go_down(fault.seconds)
        else:
            self.plan.arm(fault)

    # --- batches ------------------------------------------------------------------------------------
    # Synchronous on purpose: no await between the idempotency check and the record, so two copies of one
    # batch arriving together cannot both be applied.
    def accept_batch(self, station: str, key: str, document: Any) -> Answer:
        digest = payload_digest(document)
        slot = (station, key)
        if slot in self.batches:
            seen, answer = self.batches[slot]
            if seen != digest:
                raise Problem(422, "idempotency-key-reused", "this Idempotency-Key was used for a different body")
            return 200, answer, {"Idempotent-Replayed": "true"}
        items = parse_batch(document, max_items=self.settings.max_items)
        received_at = to_iso(utcnow())
        answers = []
        for index, item in enumerate(items):
            known = self.items.get((station, item.dedupe_key))
            if known is not None:
                answers.append({**known, "index": index, "status": "duplicate"})
                continue
            receipt = receipts.sign_item(self.settings.receipt_key, {
                "station": station, "kind": item.kind, "dedupe_key": item.dedupe_key,
                "payload_sha256": payload_digest(item.payload), "receipt_id": uuid.uuid4().hex,
                "received_at": received_at}, self.settings.receipt_key_id)
            self.items[(station, item.dedupe_key)] = receipt
            answers.append({**receipt, "index": index, "status": "accepted"})
        answer = {"idempotency_key": key, "receipts": answers}
        self.batches[slot] = (digest, answer)
        return 200, answer, {}

    # --- manifests ----------------------------------------------------------------------------------
    async def accept_manifest(self, station: str, document: Any, fault: Fault | None) -> Answer:
        manifest = parse_manifest(document)
        if manifest.station != station:
            raise Problem(403, "station-mismatch", "the manifest names another station than the API key's")
        if manifest.bucket not in self.settings.buckets:
            raise Problem(422, "unknown-bucket", f"bucket {manifest.bucket!r} is not one this platform ingests",
                          buckets=list(self.settings.buckets))
        known = self.manifests.get((station, manifest.dedupe_key))
        if known is not None and (known["sha256"], known["key"], known["size"]) != (
                manifest.sha256, manifest.key, manifest.size):
            raise Problem(409, "manifest-conflict", "this dedupe_key already has a receipt for other bytes")
        receipt = known if known is not None else await self._verify(manifest)
        self.manifests[(station, manifest.dedupe_key)] = receipt
        sent = self._faulted(receipt, fault)
        return (200, {"receipt": sent}, {"Idempotent-Replayed": "true"} if known is not None else {})

    async def _verify(self, manifest: Any) -> dict[str, Any]:
        if self.settings.store is None:
            raise Problem(503, "object-store-unavailable", "no object store configured", {"Retry-After": "30"})
        try:
            size, sha = await digest_object(self.settings.store, manifest.bucket, manifest.key)
        except ObjectMissing as exc:
            raise Problem(422, "object-missing", f"no object {manifest.bucket}/{manifest.key} in the store",
                          bucket=manifest.bucket, key=manifest.key) from exc
        except StoreUnavailable as exc:
            raise Problem(503, "object-store-unavailable", str(exc), {"Retry-After": "30"}) from exc
        if size != manifest.size:
            raise Problem(422, "object-size-mismatch", f"the store holds {size} bytes, the manifest says "
                          f"{manifest.size}", expected=manifest.size, actual=size)
        if sha != manifest.sha256:
            raise Problem(422, "object-hash-mismatch", "the object's SHA-256 differs from the manifest's",
                          expected=manifest.sha256, actual=sha)
        return receipts.sign_file(self.settings.receipt_key, {
            "station": manifest.station, "dedupe_key": manifest.dedupe_key, "bucket": manifest.bucket,
            "key": manifest.key, "size": size, "sha256": sha, "received_at": to_iso(utcnow())},
            self.settings.receipt_key_id)

    def _faulted(self, receipt: dict[str, Any], fault: Fault | None) -> dict[str, Any]:
        """The receipt as sent: the stored one stays true, so a re-sent manifest gets the right receipt."""
        if fault is not None and fault.kind == "wrong-hash":
            wrong = format(int(receipt["sha256"], 16) ^ 1, "064x")  # one bit off, still validly signed
            return receipts.sign_file(self.settings.receipt_key, {k: receipt[k] for k in receipts.FILE_FIELDS}
                                      | {"sha256": wrong}, self.settings.receipt_key_id)
        if fault is not None and fault.kind == "wrong-signature":
            return receipts.sign_file(b"not-the-receipt-key", {k: receipt[k] for k in receipts.FILE_FIELDS},
                                      self.settings.receipt_key_id)
        return receipt


INGEST_KEY = web.AppKey("central_ingest", IngestState)


def _problem_response(problem: Problem) -> web.Response:
    return web.Response(status=problem.status, body=json.dumps(problem.body()).encode(),
                        content_type="application/problem+json", headers=problem.headers)


async def _cut(request: web.Request, status: int, body: bytes) -> web.StreamResponse:
    """Send the headers and half the body, then reset the connection (SO_LINGER 0: an RST, not a FIN)."""
    response = web.StreamResponse(status=status, headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return response


async def _read_at_most(request: web.Request, limit: int) -> bytes:
    """The body, refused once it passes ``limit`` (read no further: a station's runaway batch costs us nothing)."""
    if request.content_length is not None and request.content_length > limit:
        raise Problem(413, "body-too-large", f"at most {limit} bytes per request")
    chunks, size = [], 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise Problem(413, "body-too-large", f"at most {limit} bytes per request")
        chunks.append(chunk)
    return b"".join(chunks)


async def _serve(request: web.Request, route: str,
                 work: Callable[[IngestState, str, Any, Fault | None], Awaitable[Answer]]) -> web.StreamResponse:
    """Faults first (as a load balancer in front would answer), then auth, input, and the work."""
    state = request.app[INGEST_KEY]
    state.requests[route] += 1
    fault = state.plan.take(route)
    try:
        if fault is not None:
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            elif fault.kind == "unavailable":
                raise Problem(503, "unavailable", "the central platform is unavailable (simulated)",
                              {"Retry-After": str(fault.retry_after)})
            elif fault.kind == "insufficient-storage":
                raise Problem(507, "insufficient-storage", "the central platform is out of storage (simulated)")
            elif fault.kind == "error":
                raise Problem(500, "internal-error", "the central platform failed (simulated)")
        station = state.station_for(request.headers.get("Authorization"))
        raw = await _read_at_most(request, state.settings.max_body_bytes)
        status, body, headers = await work(state, station, parse_json(raw), fault)
    except Problem as problem:
        return _problem_response(problem)
    if fault is not None and fault.kind == "reset":
        return await _cut(request, status, json.dumps(body).encode())
    if fault is not None and fault.kind == "garbage":  # took effect, but the answer is no JSON at all
        return web.Response(status=200, text="<html><body>502 upstream hiccup</body></html>", content_type="text/html")
    return web.json_response(body, status=status, headers=headers)


async def ingest_batch(request: web.Request) -> web.StreamResponse:
    """POST /api/v1/ingest/batch (Idempotency-Key) -> {"idempotency_key", "receipts": [...]}."""

    async def work(state: IngestState, station: str, document: Any, fault: Fault | None) -> Answer:
        key = idempotency_key(request.headers.get("Idempotency-Key"))  # after auth: a stranger learns nothing
        status, answer, headers = state.accept_batch(station, key, document)
        if fault is not None and fault.kind == "foreign-receipt":  # a validly signed receipt for no sent item
            foreign = receipts.sign_item(state.settings.receipt_key, {
                "station": station, "kind": "alert", "dedupe_key": f"never-sent-{uuid.uuid4().hex[:8]}",
                "payload_sha256": payload_digest({}), "receipt_id": uuid.uuid4().hex,
                "received_at": to_iso(utcnow())}, state.settings.receipt_key_id)
            answer = {**answer, "receipts": [*answer["receipts"], {**foreign, "index": len(answer["receipts"]),
                                                                   "status": "accepted"}]}
        return status, answer, headers

    return await _serve(request, "batch", work)


async def ingest_manifest(request: web.Request) -> web.StreamResponse:
    """POST /api/v1/ingest/manifest -> {"receipt": {...}} once the object read back matches."""
    return await _serve(request, "manifest", lambda s, st, doc, f: s.accept_manifest(st, doc, f))


async def faults_get(request: web.Request) -> web.Response:
    state = request.app[INGEST_KEY]
    return web.json_response({"armed": [f.as_dict() for f in state.plan.faults], "down": state.plan.is_down(),
                              "history": state.plan.history, "requests": state.requests,
                              "items": len(state.items), "manifests": len(state.manifests)})


async def faults_post(request: web.Request) -> web.Response:
    """POST /sim/ingest/faults {"fault": KIND, "count", "route", "retry_after", "delay", "seconds"}."""
    state = request.app[INGEST_KEY]
    try:
        body = parse_json(await request.read())
        if not isinstance(body, dict) or "fault" not in body:
            raise Problem(422, "invalid-fault", 'expected {"fault": KIND, ...}')
        options = {k: v for k, v in body.items() if k != "fault"}
        fault = Fault(body["fault"], **options)
        if fault.kind == "down" and state.go_down is None:
            raise Problem(422, "invalid-fault", "down needs the simulator's listener (start_central)")
        # Answer first: a "down" fault stops the listener this answer travels on.
        asyncio.get_running_loop().call_soon(state.arm, fault)
    except (FaultSpecError, TypeError) as exc:
        return _problem_response(Problem(422, "invalid-fault", str(exc)))
    except Problem as problem:
        return _problem_response(problem)
    return web.json_response({"armed": fault.as_dict()}, status=201)


async def faults_delete(request: web.Request) -> web.Response:
    request.app[INGEST_KEY].plan.clear()
    return web.json_response({"armed": []})


def add_ingest_routes(state: IngestState) -> Callable[[web.Application], None]:
    def add(app: web.Application) -> None:
        app[INGEST_KEY] = state
        app.router.add_post("/api/v1/ingest/batch", ingest_batch)
        app.router.add_post("/api/v1/ingest/manifest", ingest_manifest)
        app.router.add_get("/sim/ingest/faults", faults_get)
        app.router.add_post("/sim/ingest/faults", faults_post)
        app.router.add_delete("/sim/ingest/faults", faults_delete)
    return add
