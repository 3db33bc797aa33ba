"""HTTP API of the body-camera domain: the live registry, tracks, and enrolment (technicians)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from edge.bodycam.enrolment import Enrolment, EnrolmentError
from edge.bodycam.service import BodycamService
from edge.config import Role
from edge.store import enrolment as enrolment_rows
from edge.store import expected_footage as footage_rows
from edge.store import telemetry as telemetry_rows
from edge.web.app import CONTEXT_KEY
from edge.web.auth import PRINCIPAL_KEY, requires
from edge.web.footage_reads import record_footage_view
from edge.web.problems import ProblemError

_MAX_TRACK = 10_000


@dataclass(frozen=True, slots=True)
class BodycamApi:
    service: BodycamService
    enrolment: Enrolment


API_KEY = web.AppKey("bodycam", BodycamApi)


def _api(request: web.Request) -> BodycamApi:
    return request.app[API_KEY]


def _time(request: web.Request, name: str) -> datetime:
    text = request.query.get(name)
    if not text:
        raise ProblemError(400, "invalid-parameter", f"{name} is required (ISO 8601 with offset)", parameter=name)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ProblemError(400, "invalid-parameter", f"{name} is not an ISO 8601 time: {text[:40]!r}",
                           parameter=name) from None
    if value.tzinfo is None:
        raise ProblemError(400, "invalid-parameter", f"{name} needs a time zone offset (e.g. Z or +08:00)",
                           parameter=name)
    return value


async def _body(request: web.Request, *fields: str) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ProblemError(400, "invalid-body", "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ProblemError(400, "invalid-body", "the body must be a JSON object")
    missing = [f for f in fields if not isinstance(body.get(f), str) or not body[f]]
    if missing:
        raise ProblemError(400, "invalid-body", f"missing or non-string field(s): {', '.join(missing)}",
                           fields=missing)
    return body


def _enrolment_error(exc: EnrolmentError) -> ProblemError:
    return ProblemError(422, "invalid-enrolment", str(exc))


@requires(Role.TECHNICIAN, Role.SUPERVISOR)
async def list_devices(request: web.Request) -> web.Response:
    service = _api(request).service
    items = [dev.snapshot() for _, dev in sorted(service.registry.devices.items())]
    return web.json_response({"items": items, "online": sum(1 for d in items if d["online"])})


@requires(Role.TECHNICIAN, Role.SUPERVISOR)
async def get_device(request: web.Request) -> web.Response:
    device_id = request.match_info["device_id"]
    dev = _api(request).service.device(device_id)
    if dev is None:
        raise ProblemError(404, "unknown-device", f"no enrolled device {device_id!r}")
    store = request.app[CONTEXT_KEY].store
    assignments = await store.read(lambda q: enrolment_rows.assignments(q, device_id))
    events = await store.read(lambda q: telemetry_rows.events(q, device_id, limit=50))
    expected = await store.read(lambda q: footage_rows.for_device(q, device_id, limit=50))
    # The announcements name the footage they were met by (id, hash): a metadata read like any other.
    await record_footage_view(request, [e["footage_id"] for e in expected if e.get("footage_id")], "device details")
    return web.json_response({**dev.snapshot(), "assignments": assignments, "recent_events": events,
                              "expected_footage": expected})


@requires(Role.TECHNICIAN, Role.SUPERVISOR)
async def device_track(request: web.Request) -> web.Response:
    device_id = request.match_info["device_id"]
    if _api(request).service.device(device_id) is None:
        raise ProblemError(404, "unknown-device", f"no enrolled device {device_id!r}")
    start, end = _time(request, "from"), _time(request, "to")
    if end <= start:
        raise ProblemError(400, "invalid-parameter", "to must be after from", parameter="to")
    try:
        limit = int(request.query.get("limit", "5000"))
    except ValueError:
        raise ProblemError(400, "invalid-parameter", "limit must be an integer", parameter="limit") from None
    if not 1 <= limit <= _MAX_TRACK:
        raise ProblemError(400, "invalid-parameter", f"limit must be 1..{_MAX_TRACK}", parameter="limit")
    fixes = await request.app[CONTEXT_KEY].store.read(
        lambda q: telemetry_rows.track(q, device_id, start, end, limit=limit))
    return web.json_response({"device_id": device_id, "from": start.isoformat(), "to": end.isoformat(),
                              "clock": "device", "items": fixes})


@requires(Role.TECHNICIAN)
async def add_device(request: web.Request) -> web.Response:
    body = await _body(request, "device_id", "serial")
    api = _api(request)
    try:
        enrolled = await api.enrolment.add_device(body["device_id"], body["serial"], str(body.get("model", "")),
                                                  actor=request[PRINCIPAL_KEY].actor)
    except EnrolmentError as exc:
        raise _enrolment_error(exc) from None
    await api.service.reload_enrolment()
    return web.json_response({"device_id": enrolled.device_id, "secret": enrolled.secret,
                              "provisioned": enrolled.provisioned,
                              "note": "the secret is shown once: configure it on the camera now"}, status=201)


@requires(Role.TECHNICIAN)
async def remove_device(request: web.Request) -> web.Response:
    device_id = request.match_info["device_id"]
    api = _api(request)
    if not await api.enrolment.remove_device(device_id, actor=request[PRINCIPAL_KEY].actor):
        raise ProblemError(404, "unknown-device", f"no enrolled device {device_id!r}")
    await api.service.reload_enrolment()
    return web.Response(status=204)


@requires(Role.TECHNICIAN)
async def add_assignment(request: web.Request) -> web.Response:
    body = await _body(request, "officer_no", "starts_at", "ends_at")
    try:
        starts, ends = datetime.fromisoformat(body["starts_at"]), datetime.fromisoformat(body["ends_at"])
    except ValueError:
        raise ProblemError(400, "invalid-body", "starts_at and ends_at must be ISO 8601 times") from None
    api = _api(request)
    try:
        ident = await api.enrolment.assign(request.match_info["device_id"], body["officer_no"], starts, ends,
                                           actor=request[PRINCIPAL_KEY].actor)
    except EnrolmentError as exc:
        raise _enrolment_error(exc) from None
    await api.service.reload_enrolment()
    return web.json_response({"id": ident}, status=201)


@requires(Role.TECHNICIAN, Role.SUPERVISOR)
async def list_officers(request: web.Request) -> web.Response:
    return web.json_response({"items": await request.app[CONTEXT_KEY].store.read(enrolment_rows.officers)})


@requires(Role.TECHNICIAN)
async def add_officer(request: web.Request) -> web.Response:
    body = await _body(request, "officer_no", "name", "unit_no", "unit_name")
    try:
        officer = await _api(request).enrolment.add_officer(body["officer_no"], body["name"], body["unit_no"],
                                                            body["unit_name"])
    except EnrolmentError as exc:
        raise _enrolment_error(exc) from None
    return web.json_response(officer, status=201)


def route_adder(api: BodycamApi) -> Callable[[web.Application], None]:
    def add(app: web.Application) -> None:
        app[API_KEY] = api
        app.router.add_get("/api/v1/devices", list_devices)
        app.router.add_post("/api/v1/devices", add_device)
        app.router.add_get("/api/v1/devices/{device_id}", get_device)
        app.router.add_delete("/api/v1/devices/{device_id}", remove_device)
        app.router.add_get("/api/v1/devices/{device_id}/track", device_track)
        app.router.add_post("/api/v1/devices/{device_id}/assignments", add_assignment)
        app.router.add_get("/api/v1/officers", list_officers)
        app.router.add_post("/api/v1/officers", add_officer)

    return add
