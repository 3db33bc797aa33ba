"""What the link is told (broker, identity, limits) and what it raises when the broker says no."""

from __future__ import annotations

from dataclasses import dataclass


class PublishError(Exception):
    """The broker refused a publish (reason code >= 0x80) or the link is shutting down."""


@dataclass(frozen=True, slots=True)
class LinkSettings:
    host: str
    port: int
    client_id: str
    username: str = ""
    password: str = ""
    tls: bool = False
    ca_file: str | None = None
    keepalive_s: int = 30
    session_expiry_s: int = 86_400
    max_inflight: int = 1_000
    receive_maximum: int = 1_000
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    status_topic: str = ""  # retained online/offline status with a last will; empty: none
    online_payload: bytes = b'{"state":"online"}'
    offline_payload: bytes = b'{"state":"offline"}'
    lanes: int = 4
    # A message that can be neither handled nor dead-lettered (store outage) is retried this many times
    # within this many seconds, then the link reconnects so the broker redelivers it.
    retry_attempts: int = 8
    retry_window_s: float = 15.0
