"""The one rule for a URL the station reaches over the WAN (central API, S3 store): http or https naming a
host, a valid port, and https unless the host is loopback (tests and simulators)."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_wan_url(value: str, what: str) -> SplitResult:
    """Raise ValueError (pydantic reports it with the key path) unless ``value`` may name ``what``."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// URL naming a host (the {what})")
    parts.port  # noqa: B018 - raises ValueError on a bad port
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"the {what} is reached over the WAN: use https:// (plain http:// only on loopback, "
                         "for tests and simulators)")
    return parts
