"""Footage routes: list, details with custody history, download (Range, logged, reason required), hold,
disk state, reconciliation report, dock manifests, and a manual retention run."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from edge.bodycam.footage.context import FOOTAGE_KEY
from edge.bodycam.footage.names import BadNameError, check_device_id
from edge.config import Role
from edge.store import Tx, custody, holds
from edge.store import footage as rows
from edge.timeutil import utcnow
from edge.web.auth import PRINCIPAL_KEY, Principal, requires
from edge.web.footage_reads import record_footage_view
from edge.web.problems import ProblemError

BASE = "/api/v1/footage"
_VIEWERS = (Role.SUPERVISOR, Role.OFFICER)


def _id(request: web.Request) -> int:
    value = request.match_info["footage_id"]
    if not value.isdigit():
        raise ProblemError(404, "footage-not-found", f"no footage {value!r}")
    return int(value)


def _may_see(principal: Principal, row: dict[str, Any]) -> bool:
    # Officers see their own footage only (one archive per officer); supervisors and technicians see all.
    return principal.role != Role.OFFICER or row["officer_no"] == principal.name


async def _footage(request: web.Request) -> dict[str, Any]:
    api = request.app[FOOTAGE_KEY]
    footage_id = _id(request)
    row = await api.store.read(lambda q: rows.get(q, footage_id))
    if row is None or not _may_see(request[PRINCIPAL_KEY], row):
        raise ProblemError(404, "footage-not-found", f"no footage {footage_id}")
    return row


def _public(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in ("ingest_id",)}
    out["thumbnail_url"] = f"{BASE}/{row['id']}/thumbnail" if row["thumbnail"] else None
    out["content_url"] = f"{BASE}/{row['id']}/content"
    return out


@requires(Role.SUPERVISOR, Role.TECHNICIAN, Role.OFFICER)
async def list_footage(request: web.Request) -> web.Response:
    api = request.app[FOOTAGE_KEY]
    principal = request[PRINCIPAL_KEY]
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 1000:
        raise ProblemError(400, "invalid-parameter", "limit must be between 1 and 1000", parameter="limit")
    officer = principal.name if principal.role == Role.OFFICER else request.query.get("officer")
    items = await api.store.read(lambda q: rows.listing(
        q, device_id=request.query.get("device"), state=request.query.get("state"), officer_no=officer, limit=limit))
    await record_footage_view(request, [r["id"] for r in items], "footage list")
    return web.json_response({"items": [_public(r) for r in items]})




@requires(Role.SUPERVISOR, Role.TECHNICIAN, Role.OFFICER)
async def get_footage(request: web.Request) -> web.Response:
    row = await _footage(request)
    api = request.app[FOOTAGE_KEY]
    history = await api.store.read(lambda q: custody.history(q, f"footage:{row['id']}"))
    # Logged before the answer leaves (no unlogged read); the history shown is the one before this read.
    await record_footage_view(request, [row["id"]], "footage details")
    body = _public(row)
    body["custody"] = [{"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "reason": e.reason,
                        "details": dict(e.details)} for e in history]
    return web.json_response(body)


@requires(*_VIEWERS)
async def content(request: web.Request) -> web.StreamResponse:
    """The file itself, with Range support (browser playback). Every request is a custody entry."""
    row = await _footage(request)
    reason = (request.query.get("reason") or request.headers.get("X-Access-Reason") or "").strip()
    if not reason:
        raise ProblemError(400, "reason-required", "say why you access this footage: ?reason=... (or the "
                           "X-Access-Reason header); it is written to the custody log")
    if row["state"] == "deleted":
        raise ProblemError(410, "footage-deleted", f"footage {row['id']} was deleted by retention on "
                           f"{row['deleted_at']}; its record and custody history remain")
    api = request.app[FOOTAGE_KEY]
    export = request.query.get("export") in ("1", "true")
    principal = request[PRINCIPAL_KEY]
    action = "footage.exported" if export else "footage.viewed"
    details = {"range": request.headers.get("Range", ""), "remote": request.remote or ""}
    await api.store.write(lambda tx: custody.append(tx, actor=principal.actor, action=action,
                                                    subject=f"footage:{row['id']}", reason=reason, details=details))
    response = web.FileResponse(api.layout.path(row["path"]), chunk_size=1 << 20)
    if export:
        response.headers["Content-Disposition"] = f'attachment; filename="footage-{row["id"]}-{row["sha256"][:12]}"'
    response.headers["X-Footage-Sha256"] = row["sha256"]
    return response


@requires(*_VIEWERS)
async def thumbnail(request: web.Request) -> web.StreamResponse:
    row = await _footage(request)
    if not row["thumbnail"]:
        raise ProblemError(404, "thumbnail-not-available", "no thumbnail (not probed yet, or no decodable keyframe)")
    api = request.app[FOOTAGE_KEY]
    principal = request[PRINCIPAL_KEY]
    await api.store.write(lambda tx: custody.append(tx, actor=principal.actor, action="footage.thumbnail_viewed",
                                                    subject=f"footage:{row['id']}", reason="thumbnail preview"))
    return web.FileResponse(api.layout.path(row["thumbnail"]))


@requires(Role.SUPERVISOR)
async def hold(request: web.Request) -> web.Response:
    """{"hold": true|false, "reason": "..."}: a supervisor's permanent hold, or its release.

    A release removes only the supervisor's hold: the camera's (marked, SOS) cannot be released by a
    person (409), and a case link keeps holding the file until it is unlinked.
    """
    row = await _footage(request)
    try:
        body = json.loads(await request.read())
        wanted, reason = bool(body["hold"]), str(body["reason"]).strip()
    except (ValueError, KeyError, TypeError):
        raise ProblemError(400, "invalid-body", 'send {"hold": true|false, "reason": "..."}') from None
    if not reason:
        raise ProblemError(400, "reason-required", "a hold or its release needs a reason")
    api = request.app[FOOTAGE_KEY]
    days = api.config.routine_retention_days
    principal = request[PRINCIPAL_KEY]

    def write(tx: Tx) -> None:
        camera = holds.camera_holds(tx, row["id"]) if not wanted else set()  # checked in the changing transaction
        if "marked" in camera:
            raise ProblemError(409, "marked-footage", "footage marked on the camera stays held")
        if "sos" in camera:
            raise ProblemError(409, "sos-footage", "footage covering an SOS stays held; no person may release it")
        held, left, until = holds.set_holder(tx, row["id"], holds.SUPERVISOR, wanted, retention_days=days,
                                             now=utcnow())
        custody.append(tx, actor=principal.actor, action="footage.hold" if wanted else "footage.hold_released",
                       subject=f"footage:{row['id']}", reason=reason,
                       details={"retain_until": until, "still_held": held, "holders": left})

    await api.store.write(write)
    return web.json_response(_public(await _footage(request)))


@requires(Role.TECHNICIAN, Role.SUPERVISOR)
async def disk(request: web.Request) -> web.Response:
    api = request.app[FOOTAGE_KEY]
    state = api.disk.sample()
    totals = await api.store.read(rows.totals)
    return web.json_response({**state.as_json(), "footage": totals, "high_watermark_pct": api.config.high_watermark_pct,
                              "critical_watermark_pct": api.config.critical_watermark_pct,
                              "hard_floor_mb": api.config.hard_floor_mb})


@requires(Role.TECHNICIAN, Role.SUPERVISOR)
async def reconciliation(request: web.Request) -> web.Response:
    return web.json_response(request.app[FOOTAGE_KEY].reconciliation or {"checked_at": None})


@requires(Role.TECHNICIAN)
async def run_retention(request: web.Request) -> web.Response:
    deleted = await request.app[FOOTAGE_KEY].run_retention()
    return web.json_response({"deleted": deleted})


@requires(Role.TECHNICIAN, devices=True)
async def manifest(request: web.Request) -> web.StreamResponse:
    try:
        device = check_device_id(request.match_info["device_id"])
    except BadNameError as exc:
        raise ProblemError(400, "invalid-device-id", str(exc)) from None
    principal = request[PRINCIPAL_KEY]
    if principal.device and principal.name != device:
        raise ProblemError(403, "forbidden", "a device may read only its own manifest")
    path = request.app[FOOTAGE_KEY].layout.manifests / f"{device}.json"
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        raise ProblemError(404, "manifest-not-found", f"no dock manifest for {device} yet") from None
    if not principal.device:  # a person (a technician) reads the files' ids and hashes: a footage.view
        listed = json.loads(data).get("files", [])
        await record_footage_view(request, [f["footage_id"] for f in listed if isinstance(f.get("footage_id"), int)],
                     f"dock manifest of {device}")
    return web.Response(body=data, content_type="application/json")


def add_routes(app: web.Application) -> None:
    app.router.add_get(BASE, list_footage)
    app.router.add_get(BASE + "/disk", disk)
    app.router.add_get(BASE + "/reconciliation", reconciliation)
    app.router.add_post(BASE + "/retention/run", run_retention)
    app.router.add_get(BASE + "/dock/{device_id}/manifest", manifest)
    app.router.add_get(BASE + "/{footage_id}", get_footage)
    app.router.add_get(BASE + "/{footage_id}/content", content)
    app.router.add_get(BASE + "/{footage_id}/thumbnail", thumbnail)
    app.router.add_post(BASE + "/{footage_id}/hold", hold)
