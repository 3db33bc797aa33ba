"""Authentication and role checks for /api/ routes.

People and systems use bearer tokens with a role; devices (cameras, docks) use HTTP Basic with their
device id and secret, and only on routes marked ``devices=True``. Every API handler declares what it
admits with ``@requires(...)``; a handler that declares nothing is refused to everyone (fail closed).
Tokens are looked up by their SHA-256, so comparison time does not depend on how much of a guess was right.
"""

from __future__ import annotations

import base64
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


_DEVICES_ATTR = "__station_edge_devices__"

# Checks a device id and secret presented from a client address (enrolled devices only); may raise a
# ProblemError (429) while that device or address is rate-limited (edge.web.device_auth).
DeviceVerifier = Callable[[str, str, str], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role | None  # None for a device
    device: bool = False

    @property
    def actor(self) -> str:
        """How this principal appears in the custody log."""
        return f"device:{self.name}" if self.device else f"{self.role.value if self.role else '?'}:{self.name}"


PRINCIPAL_KEY = web.RequestKey("principal", Principal)


def requires(*roles: Role, devices: bool = False) -> Callable[[H], H]:
    """Admit these token roles and, with devices=True, enrolled devices using HTTP Basic."""

    def mark(handler: H) -> H:
        setattr(handler, _ROLES_ATTR, frozenset(roles))
        setattr(handler, _DEVICES_ATTR, devices)
        return handler

    return mark


def admits_devices(handler: Callable[..., Any]) -> bool:
    return bool(getattr(handler, _DEVICES_ATTR, False))


async def authenticate_device(request: web.Request, verifier: DeviceVerifier | None) -> Principal:
    """HTTP Basic: user = device id, password = the device secret issued at enrolment."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    try:
        login, colon, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        login, colon, password = "", "", ""
    if scheme.lower() != "basic" or not colon or not login:
        raise ProblemError(401, "unauthorized", "malformed Basic credentials (expected device-id:secret)")
    if verifier is None or not await verifier(login, password, request.remote or ""):
        raise ProblemError(401, "invalid-device-credentials",
                           "unknown device, removed device, or wrong device secret")
    return Principal(login, None, device=True)


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
    if principal.device:
        if not admits_devices(handler):
            raise ProblemError(403, "forbidden", "devices may not use this endpoint")
        return
    if principal.role is None or principal.role not in allowed:
        roles = ", ".join(sorted(r.value for r in allowed)) or "none"
        role = principal.role.value if principal.role else "none"
        raise ProblemError(403, "forbidden", f"role {role!r} may not use this endpoint (allowed: {roles})")
