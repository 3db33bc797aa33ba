"""What the HTTP target needs to reach the central platform, built once from ``[uplink.central]``: the secrets
read from their files and the TLS context. Every problem names its config key."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from edge.uplink.config import CentralConfig

MIN_RECEIPT_KEY_BYTES = 16


class CentralAccessError(Exception):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"uplink.central.{key}: {message}")
        self.key, self.message = key, message


@dataclass(frozen=True)
class CentralAccess:
    url: str
    api_key: str = field(repr=False)
    receipt_key: bytes = field(repr=False)
    ssl_context: ssl.SSLContext | None  # None: plain http (loopback only, the config checked)
    timeout_s: float
    max_batch_items: int
    max_batch_bytes: int
    breaker_failures: int
    breaker_cooldown_s: float


def _secret(path: Path, key: str) -> bytes:
    try:
        value = path.read_bytes().strip()
    except OSError as exc:
        raise CentralAccessError(key, f"cannot read secret file {path}: {exc.strerror or exc}") from None
    if not value:
        raise CentralAccessError(key, f"secret file {path} is empty")
    return value


def client_tls(config: CentralConfig) -> ssl.SSLContext:
    """Verification on (hostname and chain) against ``ca_file`` or the system store; the client certificate if
    configured. There is no switch to turn verification off."""
    try:
        context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise CentralAccessError("ca_file", f"cannot load CA bundle {config.ca_file}: {exc}") from None
    if config.client_cert_file is not None:
        try:
            context.load_cert_chain(str(config.client_cert_file),
                                    str(config.client_key_file) if config.client_key_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise CentralAccessError("client_cert_file", f"cannot load the client certificate: {exc}") from None
    return context


def load_access(config: CentralConfig) -> CentralAccess:
    api_key = _secret(config.api_key_file, "api_key_file")
    try:
        api_key_text = api_key.decode("ascii")
    except UnicodeDecodeError:
        raise CentralAccessError("api_key_file", "the API key must be ASCII text") from None
    if any(c.isspace() for c in api_key_text):
        raise CentralAccessError("api_key_file", "the API key must be one word (no spaces or line breaks)")
    receipt_key = _secret(config.receipt_key_file, "receipt_key_file")
    if len(receipt_key) < MIN_RECEIPT_KEY_BYTES:
        raise CentralAccessError("receipt_key_file", f"a receipt key needs at least {MIN_RECEIPT_KEY_BYTES} bytes")
    https = urlsplit(config.url).scheme == "https"
    return CentralAccess(config.url, api_key_text, receipt_key, client_tls(config) if https else None,
                         config.timeout_s, config.max_batch_items, config.max_batch_bytes, config.breaker_failures,
                         config.breaker_cooldown_s)
