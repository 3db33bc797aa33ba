"""Config of the HTTP layer's own parts: ``[http.device_auth]`` (device Basic-auth cache and failure limits)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from edge.config_section import ConfigSection


class DeviceAuthConfig(ConfigSection):
    # A verified device id + secret is trusted this long without a new PBKDF2 (0: never cached). A changed
    # or revoked secret is noticed at once: each hit is checked against the device's current hash.
    cache_ttl_s: Annotated[float, Field(ge=0, le=3600)] = 60.0
    cache_max_entries: Annotated[int, Field(ge=1)] = 10_000
    # Failed logins counted over this sliding window...
    failure_window_s: Annotated[float, Field(gt=0)] = 60.0
    # ...beyond which a client address is answered 429 before any hash is computed...
    max_failures_per_address: Annotated[int, Field(ge=1)] = 10
    # ...and so is every uncached login as that device (higher: one noisy address must not lock a camera
    # out from everywhere; a camera that logged in lately stays cached).
    max_failures_per_device: Annotated[int, Field(ge=1)] = 30
    # Threads that run the PBKDF2 checks: their own, so password guessing never queues footage work.
    hash_workers: Annotated[int, Field(ge=1, le=8)] = 1
