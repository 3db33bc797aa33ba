"""Health, readiness, metrics and station-wide API routes."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from edge import __version__
from edge.config import Role
from edge.custody import keys
from edge.metrics import CONTENT_TYPE
from edge.store import alerts, custody, deadletter, outbox
from edge.web.app import CONTEXT_KEY
from edge.web.auth import PRINCIPAL_KEY, requires
from edge.web.problems import ProblemError


def _limit(request: web.Request, default: int = 100) -> int:
    try:
        limit = int(request.query.get("limit", str(default)))
    except ValueError:
        raise ProblemError(400, "invalid-parameter", "limit must be an integer", parameter="limit") from None
    if not 1 <= limit <= 1000:
        raise ProblemError(400, "invalid-parameter", "limit must be between 1 and 1000", parameter="limit")
    return limit


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive", "version": __version__})


async def readyz(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT_KEY]
    checks = {"store": ctx.store.healthy}  # open, and its last write did not fail (disk full, I/O error)
    checks.update({name: check() for name, check in ctx.readiness.items()})
    ready = all(checks.values())
    body: dict[str, object] = {"ready": ready, "checks": checks}
    if ctx.store.write_error is not None:
        body["store_error"] = ctx.store.write_error
    return web.json_response(body, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT_KEY]
    response = web.Response(body=ctx.metrics.render())
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


@requires(Role.TECHNICIAN, Role.SUPERVISOR)
async def status(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT_KEY]
    counts = await ctx.store.read(outbox.counts)
    return web.json_response({
        "station": {"id": ctx.config.station.id, "name": ctx.config.station.name},
        "version": __version__,
        "uptime_s": round(time.monotonic() - ctx.started_at, 1),
        "schema_version": ctx.store.schema_version,
        "services": {
            name: {"running": s.running, "restarts": s.restarts, "last_error": s.last_error}
            for name, s in ctx.services.items()
        },
        "outbox": counts,
    })


@requires(Role.TECHNICIAN, Role.SUPERVISOR)
async def audit_verify(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT_KEY]
    # Checkpoints are checked against the station's own key file, not the key the database names.
    key_path = ctx.config.custody.key_path(ctx.config.station.data_dir)
    public_key = await asyncio.to_thread(keys.station_public_key, key_path)
    result = await ctx.store.read(lambda q: custody.verify(q, public_key=public_key))
    principal = request[PRINCIPAL_KEY]
    return web.json_response({**result.as_json(), "checked_by": principal.actor})


@requires(Role.TECHNICIAN)
async def dead_letters(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT_KEY]
    limit = _limit(request)
    reason = request.query.get("reason") or None
    rows = await ctx.store.read(lambda q: deadletter.recent(q, limit=limit, reason=reason))
    return web.json_response({"items": rows})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/v1/status", status)
    app.router.add_get("/api/v1/audit/verify", audit_verify)
    app.router.add_get("/api/v1/dead-letters", dead_letters)
    app.router.add_get("/api/v1/alerts", list_alerts)


@requires(Role.TECHNICIAN, Role.SUPERVISOR)
async def list_alerts(request: web.Request) -> web.Response:
    """Alerts with their history; ?state=active (default) or all, ?kind=, ?subject=, ?limit=."""
    ctx = request.app[CONTEXT_KEY]
    state = request.query.get("state", "active")
    if state not in ("active", "all"):
        raise ProblemError(400, "invalid-parameter", "state must be 'active' or 'all'", parameter="state")
    limit = _limit(request)
    kind, subject = request.query.get("kind") or None, request.query.get("subject") or None
    rows = await ctx.store.read(lambda q: alerts.listing(
        q, active_only=state == "active", kind=kind, subject=subject, limit=limit))
    return web.json_response({"items": rows})
