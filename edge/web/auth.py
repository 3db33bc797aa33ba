"""Bearer-token authentication and role checks for /api/ routes.

Every API handler declares the roles it admits with ``@requires(...)``; a handler that declares none
is refused to everyone (fail closed). Tokens are looked up by their SHA-256, so comparison time does
not depend on how much of a guess was right.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from edge.config import ApiToken, Role
from edge.web.problems import ProblemError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Callable[..., Any])
_ROLES_ATTR = "__station_edge_roles__"


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role

    @property
    def actor(self) -> str:
        """How this principal appears in the custody log."""
        return f"{self.role.value}:{self.name}"


PRINCIPAL_KEY = web.RequestKey("principal", Principal)


def requires(*roles: Role) -> Callable[[H], H]:
    def mark(handler: H) -> H:
        setattr(handler, _ROLES_ATTR, frozenset(roles))
        return handler

    return mark


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenAuthenticator:
    def __init__(self, tokens: Iterable[ApiToken]) -> None:
        self._by_digest = {t.digest: Principal(t.name, t.role) for t in tokens}

    def authenticate(self, request: web.Request) -> Principal:
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        if not header:
            raise ProblemError(
                401, "unauthorized", "this endpoint needs an 'Authorization: Bearer <token>' header"
            )
        if scheme.lower() != "bearer" or not credential.strip():
            raise ProblemError(401, "unauthorized", "the Authorization header must be 'Bearer <token>'")
        principal = self._by_digest.get(_digest(credential.strip()))
        if principal is None:
            raise ProblemError(401, "invalid-token", "the bearer token is not known to this station")
        return principal


def authorize(handler: Callable[..., Any], principal: Principal) -> None:
    allowed: frozenset[Role] = getattr(handler, _ROLES_ATTR, frozenset())
    if principal.role not in allowed:
        roles = ", ".join(sorted(r.value for r in allowed)) or "none"
        raise ProblemError(
            403, "forbidden", f"role {principal.role.value!r} may not use this endpoint (allowed: {roles})"
        )
