"""tus 1.0 upload routes (core, creation, checksum, termination) under /api/v1/uploads.

Cameras and docks authenticate with HTTP Basic (device id : secret); a technician token also works (for a
dock PC that is not enrolled as a device). Bodies are read as a stream in ~1 MiB batches, never whole:
``http.max_body_bytes`` limits only ``request.read()``, which these handlers never call.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from edge.bodycam.footage.committer import Outcome
from edge.bodycam.footage.context import FOOTAGE_KEY
from edge.bodycam.footage.layout import CHUNK
from edge.bodycam.footage.names import BadNameError, check_device_id, check_file_name, check_printable
from edge.bodycam.footage.uploads import NewUpload, decode_checksum
from edge.config import Role
from edge.timeutil import from_iso, to_iso
from edge.web.auth import PRINCIPAL_KEY, Principal, requires
from edge.web.problems import ProblemError

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,checksum,termination"
BASE = "/api/v1/uploads"
_SHA256 = re.compile(r"[0-9a-f]{64}")  # fullmatch: "$" would let a trailing newline through


def _tus_headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store", **(extra or {})}


def _check_version(request: web.Request) -> None:
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise ProblemError(412, "unsupported-tus-version", f"send 'Tus-Resumable: {TUS_VERSION}'",
                           tus_version=TUS_VERSION)


def _int_header(request: web.Request, name: str) -> int:
    value = request.headers.get(name)
    if value is None or not value.isdigit():
        raise ProblemError(400, f"invalid-{name.lower()}", f"{name} must be a non-negative integer")
    return int(value)


def parse_metadata(header: str) -> dict[str, str]:
    """``Upload-Metadata: key base64value,key2 base64value2`` (values may be absent)."""
    result: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in header.split(","))):
        key, _, value = item.partition(" ")
        try:
            result[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8") if value else ""
        except (binascii.Error, ValueError):
            raise ProblemError(400, "invalid-upload-metadata", f"metadata {key!r} is not base64 UTF-8") from None
    return result


def _new_upload(principal: Principal, meta: dict[str, str], length: int) -> NewUpload:
    try:
        name = check_file_name(meta.get("filename", ""))
    except BadNameError as exc:
        raise ProblemError(400, "invalid-file-name", f"metadata filename: {exc}") from None
    device = meta.get("device") or (principal.name if principal.device else "")
    if principal.device and device != principal.name:
        # A camera uploads only as itself (the broker's ACL holds it to its own topics the same way); only a
        # technician (a dock PC) may name the camera, and the footage records who did.
        raise ProblemError(403, "device-mismatch", "a device may upload only its own footage: metadata 'device' "
                           "must be the authenticated device id or absent")
    if not device:
        raise ProblemError(400, "missing-device", "metadata 'device' (the camera's id) is required for non-device "
                           "callers")
    try:
        check_device_id(device)
    except BadNameError as exc:
        raise ProblemError(400, "invalid-device-id", str(exc)) from None
    sha = meta.get("sha256", "").lower()
    if not _SHA256.fullmatch(sha):
        raise ProblemError(400, "invalid-sha256", "metadata 'sha256' must be the file's SHA-256 as 64 hex digits")
    recorded = meta.get("recorded_at") or None
    if recorded is not None:
        try:
            recorded = to_iso(from_iso(check_printable("recorded_at", recorded)))
        except ValueError:
            raise ProblemError(400, "invalid-recorded-at", "recorded_at must be ISO 8601 with a time zone") from None
    marked = meta.get("marked", "").lower() in ("1", "true", "yes") or meta.get("evidence", "").lower() in (
        "1", "true", "yes")
    return NewUpload(device, principal.actor, name, length, sha, marked, recorded)


def _outcome_headers(outcome: Outcome) -> dict[str, str]:
    return {"Footage-Id": str(outcome.footage_id), "Footage-State": outcome.state, "Footage-Sha256": outcome.sha256}


@requires(Role.TECHNICIAN, devices=True)
async def options(request: web.Request) -> web.Response:
    api = request.app[FOOTAGE_KEY]
    return web.Response(status=204, headers=_tus_headers({
        "Tus-Version": TUS_VERSION, "Tus-Extension": EXTENSIONS, "Tus-Max-Size": str(api.config.max_upload_bytes),
        "Tus-Checksum-Algorithm": "sha256,sha1,md5"}))


@requires(Role.TECHNICIAN, devices=True)
async def create(request: web.Request) -> web.Response:
    _check_version(request)
    api = request.app[FOOTAGE_KEY]
    if "Upload-Defer-Length" in request.headers:
        raise ProblemError(400, "defer-length-unsupported", "declare Upload-Length (and the SHA-256) at creation")
    length = _int_header(request, "Upload-Length")
    if length == 0:
        raise ProblemError(400, "empty-upload", "Upload-Length is 0: an empty file is not footage")
    new = _new_upload(request[PRINCIPAL_KEY], parse_metadata(request.headers.get("Upload-Metadata", "")), length)
    ingest_id, outcome = await api.uploads.create(new)
    headers = _tus_headers({"Location": f"{BASE}/{ingest_id}", "Upload-Offset": str(length if outcome else 0)})
    if outcome is not None:
        headers.update(_outcome_headers(outcome))
    return web.Response(status=201, headers=headers)


async def _owned(request: web.Request, *, settle_s: float = 0.0) -> dict[str, Any]:
    api = request.app[FOOTAGE_KEY]
    ingest_id = request.match_info["upload_id"]
    ingest = await api.uploads.status(ingest_id, settle_s=settle_s)
    principal = request[PRINCIPAL_KEY]
    if principal.device and ingest["actor"] != principal.actor:
        raise ProblemError(404, "upload-not-found", f"no upload {ingest_id} (unknown or terminated)")
    return ingest


@requires(Role.TECHNICIAN, devices=True)
async def head(request: web.Request) -> web.Response:
    _check_version(request)
    ingest = await _owned(request, settle_s=5.0)
    # A finished upload is complete in tus terms even when it was deduplicated at creation and no byte was
    # received (``received`` stays truthful: 0).
    offset = ingest["length"] if ingest["footage_id"] is not None else ingest["received"]
    headers = _tus_headers({"Upload-Offset": str(offset), "Upload-Length": str(ingest["length"])})
    if ingest["footage_id"] is not None:
        headers.update({"Footage-Id": str(ingest["footage_id"]), "Footage-State": ingest["state"]})
    return web.Response(status=200, headers=headers)


async def _batches(request: web.Request) -> AsyncIterator[list[bytes]]:
    pending: list[bytes] = []
    size = 0
    try:
        while data := await request.content.readany():
            pending.append(data)
            size += len(data)
            if size >= CHUNK:
                yield pending
                pending, size = [], 0
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
        if pending:
            yield pending
        raise ConnectionError(str(exc)) from exc
    if pending:
        yield pending


@requires(Role.TECHNICIAN, devices=True)
async def patch(request: web.Request) -> web.Response:
    _check_version(request)
    if request.content_type != "application/offset+octet-stream":
        raise ProblemError(415, "unsupported-media-type", "PATCH bodies must be application/offset+octet-stream")
    api = request.app[FOOTAGE_KEY]
    ingest = await _owned(request)
    offset = _int_header(request, "Upload-Offset")
    checksum = decode_checksum(request.headers["Upload-Checksum"]) if "Upload-Checksum" in request.headers else None
    result = await api.uploads.receive(ingest["id"], offset, _batches(request), request.content_length, checksum)
    headers = _tus_headers({"Upload-Offset": str(result.offset)})
    if result.outcome is not None and result.outcome.state == "quarantined":
        raise ProblemError(422, "hash-mismatch", "the received file does not match the declared SHA-256; it is kept "
                           "in quarantine and does not count as received", footage_id=result.outcome.footage_id,
                           received_sha256=result.outcome.sha256)
    if result.outcome is not None:
        headers.update(_outcome_headers(result.outcome))
    return web.Response(status=204, headers=headers)


@requires(Role.TECHNICIAN, devices=True)
async def terminate(request: web.Request) -> web.Response:
    _check_version(request)
    api = request.app[FOOTAGE_KEY]
    ingest = await _owned(request)
    await api.uploads.terminate(ingest["id"], request[PRINCIPAL_KEY].actor)
    return web.Response(status=204, headers=_tus_headers())


async def _tus_resumable_on_errors(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith(BASE):
        response.headers.setdefault("Tus-Resumable", TUS_VERSION)


def add_routes(app: web.Application) -> None:
    app.router.add_route("OPTIONS", BASE, options)
    app.router.add_post(BASE, create)
    app.router.add_route("HEAD", BASE + "/{upload_id}", head)
    app.router.add_patch(BASE + "/{upload_id}", patch)
    app.router.add_delete(BASE + "/{upload_id}", terminate)
    app.on_response_prepare.append(_tus_resumable_on_errors)
