"""aiohttp application factory and middlewares (errors as problem+json, auth, body limits)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from edge.config import Config
from edge.metrics import Metrics
from edge.store import Store
from edge.supervisor import Service, ServiceState
from edge.web.auth import (
    PRINCIPAL_KEY,
    DeviceVerifier,
    TokenAuthenticator,
    admits_devices,
    authenticate_device,
    authorize,
)
from edge.web.problems import ProblemError, problem_response

log = logging.getLogger(__name__)


@dataclass
class WebContext:
    """What route handlers may reach; one per daemon."""

    config: Config
    store: Store
    metrics: Metrics
    services: dict[str, ServiceState] = field(default_factory=dict)
    readiness: dict[str, Callable[[], bool]] = field(default_factory=dict)
    device_verifier: DeviceVerifier | None = None
    started_at: float = 0.0
    extras: dict[str, Any] = field(default_factory=dict)


CONTEXT_KEY = web.AppKey("context", WebContext)


def _public(request: web.Request, ctx: WebContext) -> bool:
    path = request.path
    if not path.startswith("/api/"):
        return path != "/metrics" or ctx.config.http.metrics_public
    return False


def _error_middleware() -> Any:
    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ProblemError as exc:
            return problem_response(exc, instance=request.path)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            slug = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}.get(
                exc.status, f"http-{exc.status}"
            )
            detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
            headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
            return problem_response(ProblemError(exc.status, slug, detail), instance=request.path,
                                    headers=headers)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception:
            incident = uuid.uuid4().hex[:12]
            log.exception("unhandled error on %s %s (incident %s)", request.method, request.path, incident)
            return problem_response(
                ProblemError(500, "internal-error", f"unexpected server error; logged as incident {incident}",
                             incident=incident),
                instance=request.path,
            )

    return errors


def _auth_middleware(authenticator: TokenAuthenticator) -> Any:
    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        ctx = request.app[CONTEXT_KEY]
        if _public(request, ctx):
            return await handler(request)
        route_handler = request.match_info.route.handler
        basic = request.headers.get("Authorization", "").lower().startswith("basic ")
        if basic and admits_devices(route_handler):
            principal = await authenticate_device(request, ctx.device_verifier)
        else:
            principal = authenticator.authenticate(request)
        if request.match_info.http_exception is None:
            authorize(route_handler, principal)
        request[PRINCIPAL_KEY] = principal
        return await handler(request)

    return auth


def build_app(ctx: WebContext, *route_adders: Callable[[web.Application], None]) -> web.Application:
    app = web.Application(
        middlewares=[_error_middleware(), _auth_middleware(TokenAuthenticator(ctx.config.api.tokens))],
        client_max_size=ctx.config.http.max_body_bytes,
    )
    app[CONTEXT_KEY] = ctx
    for add in route_adders:
        add(app)
    return app


class HttpService(Service):
    """Serves the app; stopping it first (services stop in reverse) stops intake before the rest drains."""

    name = "http"

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self.bound_port = 0

    async def __aenter__(self) -> HttpService:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.bound_port = sockets[0].getsockname()[1] if sockets else self.port
        log.info("HTTP API listening on http://%s:%d", self.host, self.bound_port)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
