"""HTTP routes of the case domain (docs/http-api.md, "Cases"). Every read of footage metadata by a
person writes a ``footage.view`` custody entry; every link decision goes through ``CaseDomain``."""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from edge.cases.compliance import KIND_PREFIX
from edge.cases.domain import CaseDomain
from edge.cases.links import LinkChange, LinkRefused
from edge.cases.records import RecordRejected, check
from edge.cases.sources import footage_id as footage_id_of
from edge.config import Role
from edge.store import alerts as alert_rows
from edge.store import cases as rows
from edge.timeutil import utcnow
from edge.web.app import CONTEXT_KEY
from edge.web.auth import PRINCIPAL_KEY, requires
from edge.web.footage_reads import record_footage_view
from edge.web.problems import ProblemError

CASES_KEY = web.AppKey("cases", CaseDomain)
READERS = (Role.SUPERVISOR, Role.TECHNICIAN)
_STATES = ("open", "closed", "cancelled")
_REVIEW_STATES = ("open", "confirmed", "rejected", "withdrawn", "all")


def _limit(request: web.Request) -> int:
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        raise ProblemError(400, "invalid-parameter", "limit must be an integer", parameter="limit") from None
    if not 1 <= limit <= 1000:
        raise ProblemError(400, "invalid-parameter", "limit must be between 1 and 1000", parameter="limit")
    return limit


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise ProblemError(400, "invalid-json", "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ProblemError(400, "invalid-json", "the request body must be a JSON object")
    return body


def _reason(body: dict[str, Any], request: web.Request, *, required: bool, default: str = "") -> str:
    reason = body.get("reason", request.query.get("reason", default))
    if not isinstance(reason, str) or (required and not reason.strip()):
        raise ProblemError(400, "reason-required", "this action needs a non-empty 'reason'", parameter="reason")
    return reason.strip()[:500] or default




def _change(change: LinkChange) -> dict[str, Any]:
    return {"footage_id": change.footage_id, "case_number": change.case_number, "state": change.state,
            "decided_by": change.decided_by, "rule": change.rule}


def _refused(exc: LinkRefused) -> ProblemError:
    return ProblemError(exc.status, exc.slug, exc.detail)


def _local_number(station_id: str) -> str:
    station = "".join(c if c.isalnum() else "-" for c in station_id.upper())[:12]
    return f"L-{station}-{utcnow():%Y%m%d%H%M%S}-{secrets.token_hex(2).upper()}"


@requires(*READERS)
async def list_cases(request: web.Request) -> web.Response:
    status = request.query.get("status") or None
    if status is not None and status not in _STATES:
        raise ProblemError(400, "invalid-parameter", f"status must be one of {', '.join(_STATES)}", parameter="status")
    officer, limit = request.query.get("officer") or None, _limit(request)
    items = await request.app[CONTEXT_KEY].store.read(
        lambda q: rows.list_cases(q, status=status, officer=officer, limit=limit))
    return web.json_response({"items": items})


async def _save_local(request: web.Request, body: dict[str, Any], *, number: str, revision: int) -> web.Response:
    domain = request.app[CASES_KEY]
    body = {**body, "number": number, "revision": revision}
    body.setdefault("kind", "incident")
    try:
        record = check(body, max_window=domain.config.feed.max_window,
                       known_officers=await domain.officers.known_officers())
        applied, changes = await domain.save_record(record, source="local", actor=request[PRINCIPAL_KEY].actor)
    except RecordRejected as exc:
        status = 409 if exc.reason.value.startswith("conflicting") else 422
        raise ProblemError(status, exc.reason.value.replace("_", "-"), exc.detail, reason=exc.reason.value) from None
    case = await domain.store.read(lambda q: rows.get_case(q, number))
    return web.json_response({"case": case, "change": applied.change, "links": [_change(c) for c in changes]},
                             status=201 if applied.change == "created" else 200)


@requires(Role.SUPERVISOR)
async def create_case(request: web.Request) -> web.Response:
    """A case handled at the station. ``number`` is optional (one is made up); ``revision`` is ours."""
    body = await _body(request)
    number = body.get("number") or _local_number(request.app[CONTEXT_KEY].config.station.id)
    exists = await request.app[CONTEXT_KEY].store.read(lambda q: rows.case_version(q, str(number)))
    if exists is not None:
        raise ProblemError(409, "case-exists", f"case {number} exists; change it with PUT /api/v1/cases/{number}")
    return await _save_local(request, body, number=str(number), revision=1)


@requires(Role.SUPERVISOR)
async def replace_case(request: web.Request) -> web.Response:
    """Change a local case (e.g. its window once cleared): a new revision, and matching re-runs."""
    number = request.match_info["number"]
    version = await request.app[CONTEXT_KEY].store.read(lambda q: rows.case_version(q, number))
    if version is None:
        raise ProblemError(404, "case-not-found", f"no case {number}")
    return await _save_local(request, await _body(request), number=number, revision=version[0] + 1)


@requires(*READERS)
async def get_case(request: web.Request) -> web.Response:
    number = request.match_info["number"]

    def read(q: Any) -> dict[str, Any] | None:
        case = rows.get_case(q, number)
        if case is not None:
            case["history"] = rows.history(q, number)
            case["links"] = rows.links_for_case(q, number)
        return case

    case = await request.app[CONTEXT_KEY].store.read(read)
    if case is None:
        raise ProblemError(404, "case-not-found", f"no case {number}")
    await record_footage_view(request, (link["footage_id"] for link in case["links"]), f"case {number}")
    return web.json_response(case)


@requires(Role.SUPERVISOR)
async def add_link(request: web.Request) -> web.Response:
    body = await _body(request)
    footage_id = body.get("footage_id")
    if not isinstance(footage_id, str) or footage_id_of(footage_id) is None:
        raise ProblemError(400, "invalid-body", "'footage_id' (the footage's integer id, as a string) is required",
                           parameter="footage_id")
    reason = _reason(body, request, required=True)
    try:
        change = await request.app[CASES_KEY].link_by_hand(
            footage_id=footage_id, case_number=request.match_info["number"],
            actor=request[PRINCIPAL_KEY].actor, reason=reason)
    except LinkRefused as exc:
        raise _refused(exc) from None
    return web.json_response(_change(change), status=201)


@requires(Role.SUPERVISOR)
async def remove_link(request: web.Request) -> web.Response:
    reason = _reason(await _body(request), request, required=True)
    try:
        change = await request.app[CASES_KEY].unlink_by_hand(
            footage_id=request.match_info["footage_id"], case_number=request.match_info["number"],
            actor=request[PRINCIPAL_KEY].actor, reason=reason)
    except LinkRefused as exc:
        raise _refused(exc) from None
    return web.json_response(_change(change))


@requires(*READERS)
async def list_review(request: web.Request) -> web.Response:
    state = request.query.get("state", "open")
    if state not in _REVIEW_STATES:
        raise ProblemError(400, "invalid-parameter", f"state must be one of {', '.join(_REVIEW_STATES)}",
                           parameter="state")
    limit = _limit(request)
    items = await request.app[CONTEXT_KEY].store.read(
        lambda q: rows.review_items(q, state=None if state == "all" else state, limit=limit))
    await record_footage_view(request, (i["footage_id"] for i in items), "review queue")
    return web.json_response({"items": items})


async def _resolve(request: web.Request, *, confirm: bool) -> web.Response:
    try:
        item_id = int(request.match_info["item_id"])
    except ValueError:
        raise ProblemError(404, "review-item-not-found", "review item ids are integers") from None
    default = "confirmed in review" if confirm else "rejected in review"
    reason = _reason(await _body(request), request, required=False, default=default)
    try:
        change = await request.app[CASES_KEY].resolve_review(
            item_id=item_id, confirm=confirm, actor=request[PRINCIPAL_KEY].actor, reason=reason)
    except LinkRefused as exc:
        raise _refused(exc) from None
    return web.json_response(_change(change))


@requires(Role.SUPERVISOR)
async def confirm_review(request: web.Request) -> web.Response:
    return await _resolve(request, confirm=True)


@requires(Role.SUPERVISOR)
async def reject_review(request: web.Request) -> web.Response:
    return await _resolve(request, confirm=False)


@requires(*READERS)
async def compliance_warnings(request: web.Request) -> web.Response:
    """Compliance warnings (alerts of kind compliance.*) with their history; ?state=active|all."""
    state = request.query.get("state", "active")
    if state not in ("active", "all"):
        raise ProblemError(400, "invalid-parameter", "state must be 'active' or 'all'", parameter="state")
    limit = _limit(request)

    def read(q: Any) -> list[dict[str, Any]]:
        items = alert_rows.listing(q, active_only=state == "active", kind=None, subject=None, limit=10_000)
        return [i for i in items if str(i["kind"]).startswith(KIND_PREFIX)][:limit]

    return web.json_response({"items": await request.app[CONTEXT_KEY].store.read(read)})


def route_adder(domain: CaseDomain) -> Any:
    from edge.cases.trace import add_trace_routes

    def add_routes(app: web.Application) -> None:
        app[CASES_KEY] = domain
        add_trace_routes(app)
        r = app.router
        r.add_get("/api/v1/cases", list_cases)
        r.add_post("/api/v1/cases", create_case)
        r.add_get("/api/v1/cases/{number}", get_case)
        r.add_put("/api/v1/cases/{number}", replace_case)
        r.add_post("/api/v1/cases/{number}/links", add_link)
        r.add_delete("/api/v1/cases/{number}/links/{footage_id}", remove_link)
        r.add_get("/api/v1/review", list_review)
        r.add_post("/api/v1/review/{item_id}/confirm", confirm_review)
        r.add_post("/api/v1/review/{item_id}/reject", reject_review)
        r.add_get("/api/v1/compliance", compliance_warnings)

    return add_routes
