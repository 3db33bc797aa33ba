"""Traceability routes (docs/http-api.md, "Cases"): a case's footage with hashes and custody chain, a
footage file's cases, one officer's archive over a period. Each footage file whose metadata a person
reads gets a ``footage.view`` custody entry (edge/web/footage_reads.py)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from edge.bodycam.payloads.ids import OFFICER_NO_PATTERN
from edge.cases.routes import READERS
from edge.cases.sources import footage_id as parse_footage_id
from edge.store import archive, case_sources, enrolment
from edge.store import cases as rows
from edge.timeutil import from_iso, to_iso, utcnow
from edge.web.app import CONTEXT_KEY
from edge.web.auth import requires
from edge.web.footage_reads import record_footage_view
from edge.web.problems import ProblemError

MAX_PERIOD = timedelta(days=366)
_OFFICER = re.compile(f"^{OFFICER_NO_PATTERN}$")


def _moment(request: web.Request, name: str, default: datetime) -> datetime:
    text = request.query.get(name)
    if not text:
        return default
    try:
        return from_iso(text)
    except ValueError:
        raise ProblemError(400, "invalid-parameter", f"{name} must be ISO 8601 with a time zone",
                           parameter=name) from None


@requires(*READERS)
async def case_footage(request: web.Request) -> web.Response:
    """A case's files (every link state) with hashes, link provenance and custody chain."""
    number = request.match_info["number"]

    def read(q: Any) -> list[dict[str, Any]] | None:
        return None if rows.case_version(q, number) is None else archive.case_footage(q, number)

    items = await request.app[CONTEXT_KEY].store.read(read)
    if items is None:
        raise ProblemError(404, "case-not-found", f"no case {number}")
    await record_footage_view(request, (i["footage_id"] for i in items), f"case {number} footage")
    return web.json_response({"case_number": number, "items": items})


@requires(*READERS)
async def footage_cases(request: web.Request) -> web.Response:
    """A footage file's cases: every link with its history, and the file's hash."""
    footage_id = request.match_info["footage_id"]
    ident = parse_footage_id(footage_id)
    if ident is None:
        raise ProblemError(404, "footage-not-found", "footage ids are integers")

    def read(q: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        found = rows.links_for_footage(q, str(ident))
        for link in found:
            link["history"] = rows.link_history(q, link["id"])
        return case_sources.footage_meta(q, ident), found

    meta, found = await request.app[CONTEXT_KEY].store.read(read)
    if meta is None and not found:
        raise ProblemError(404, "footage-not-found", f"no footage {footage_id}")
    await record_footage_view(request, [str(ident)], "footage cases")
    return web.json_response({"footage_id": str(ident), "footage": meta, "links": found})


@requires(*READERS)
async def officer_archive(request: web.Request) -> web.Response:
    """One archive per officer: devices, shifts, footage, cases and warnings in [from, to)."""
    number = request.match_info["number"]
    if not _OFFICER.match(number):
        raise ProblemError(404, "officer-not-found", "officer numbers are 6 digits")
    end = _moment(request, "to", utcnow())
    start = _moment(request, "from", end - timedelta(days=1))
    if not start < end or end - start > MAX_PERIOD:
        raise ProblemError(400, "invalid-parameter", "need from < to, at most 366 days apart", parameter="from")

    def read(q: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        return enrolment.officer(q, number), archive.officer_archive(q, number, to_iso(start), to_iso(end))

    officer, found = await request.app[CONTEXT_KEY].store.read(read)
    if officer is None and not any(found.values()):
        raise ProblemError(404, "officer-not-found", f"nothing is known of officer {number}")
    await record_footage_view(request, (str(f["id"]) for f in found["footage"]), f"officer {number} archive")
    return web.json_response({"officer_no": number, "officer": officer, "from": to_iso(start), "to": to_iso(end),
                              **found})


def add_trace_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/cases/{number}/footage", case_footage)
    r.add_get("/api/v1/footage/{footage_id}/cases", footage_cases)
    r.add_get("/api/v1/officers/{number}/archive", officer_archive)
