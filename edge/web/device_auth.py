"""Device Basic-auth checks that an attacker cannot turn into load: a cache of verified secrets and a
failure limiter in front of the deliberately slow PBKDF2 check.

- A verified (device id, secret) pair is cached under an HMAC-SHA-256 of both with a key drawn at start-up,
  so the cache holds no secret and its keys mean nothing outside this process. A hit costs one HMAC and
  the device's stored-hash lookup (which it needs anyway): when enrolment rotates or revokes the secret,
  the stored hash no longer matches the cached one and the entry is void at once, whichever process
  (daemon API or CLI) made the change.
- Failed logins are counted per client address and per device over a sliding window. Past a limit the
  answer is 429 with Retry-After, decided before any hash is computed; the first refusal raises an alert
  and it clears when the window has emptied.
- The PBKDF2 checks run on their own small thread pool, so guessing never queues footage work.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from edge.alerts import Alert, AlertBus, Severity
from edge.credentials import verify_secret
from edge.metrics import Metrics
from edge.web.config import DeviceAuthConfig
from edge.web.problems import ProblemError

log = logging.getLogger(__name__)

# The device's current secret hash, None if unknown or removed.
SecretHashLookup = Callable[[str], Awaitable[str | None]]
Clock = Callable[[], float]

ALERT_KIND = "http.device_auth_limited"
PROBLEM_SLUG = "too-many-failed-logins"


class FailureWindow:
    """Failure times per key over a sliding window, with a bound on the keys it tracks."""

    def __init__(self, window_s: float, limit: int, *, max_keys: int = 10_000) -> None:
        self.window_s = window_s
        self.limit = limit
        self._max_keys = max_keys
        self._times: dict[str, deque[float]] = {}

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again; 0 if it is under the limit."""
        times = self._prune(key, now)
        if times is None or len(times) < self.limit:
            return 0.0
        return times[len(times) - self.limit] + self.window_s - now

    def record(self, key: str, now: float) -> None:
        times = self._prune(key, now)
        if times is None:
            if len(self._times) >= self._max_keys:
                self._sweep(now)
            times = self._times[key] = deque()
        times.append(now)
        while len(times) > self.limit:  # older ones cannot matter any more
            times.popleft()

    def _prune(self, key: str, now: float) -> deque[float] | None:
        times = self._times.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._times[key]
            return None
        return times

    def _sweep(self, now: float) -> None:
        for key in list(self._times):
            self._prune(key, now)
        while len(self._times) >= self._max_keys:  # a flood of distinct keys: forget the oldest
            del self._times[next(iter(self._times))]


@dataclass(frozen=True, slots=True)
class _Verified:
    stored_hash: str
    expires_at: float


class DeviceAuthenticator:
    def __init__(self, config: DeviceAuthConfig, lookup: SecretHashLookup, metrics: Metrics,
                 alerts: AlertBus | None = None, *, clock: Clock = time.monotonic) -> None:
        self._config = config
        self._lookup = lookup
        self._alerts = alerts
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._cache: OrderedDict[bytes, _Verified] = OrderedDict()
        self._by_address = FailureWindow(config.failure_window_s, config.max_failures_per_address)
        self._by_device = FailureWindow(config.failure_window_s, config.max_failures_per_device)
        self._executor: ThreadPoolExecutor | None = None  # started at the first hash, ended by aclose()
        self._alerted: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.hashes = metrics.counter("station_edge_device_auth_hashes", "Device secrets checked with PBKDF2")
        self.cache_hits = metrics.counter("station_edge_device_auth_cache_hits",
                                          "Device logins accepted from the verified-secret cache")
        self.failures = metrics.counter("station_edge_device_auth_failures", "Failed device logins", ["reason"])
        self.limited = metrics.counter("station_edge_device_auth_limited",
                                       "Device logins refused with 429 before hashing", ["scope"])

    async def verify(self, device_id: str, secret: str, address: str) -> bool:
        """True for the device's current secret; False otherwise; ProblemError 429 while limited."""
        now = self._clock()
        stored = await self._lookup(device_id)
        key = hmac.new(self._key, f"{device_id}\0{secret}".encode(), hashlib.sha256).digest()
        cached = self._cache.get(key)
        if stored is not None and cached is not None:
            if cached.stored_hash == stored and cached.expires_at > now:
                self.cache_hits.inc()
                return True
            del self._cache[key]  # expired, or the secret was rotated/revoked since
        self._refuse_if_limited(device_id if stored is not None else None, address, now)
        if stored is None:
            self._failed(None, address, "unknown_device", now)
            return False
        self.hashes.inc()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._config.hash_workers, thread_name_prefix="device-auth")
        ok = await asyncio.get_running_loop().run_in_executor(self._executor, verify_secret, stored, secret)
        if not ok:
            self._failed(device_id, address, "wrong_secret", self._clock())
            return False
        if self._config.cache_ttl_s > 0:
            self._cache[key] = _Verified(stored, self._clock() + self._config.cache_ttl_s)
            while len(self._cache) > self._config.cache_max_entries:
                self._cache.popitem(last=False)
        return True

    async def aclose(self) -> None:
        """At shutdown: pending alert clears are dropped (the alert stays active, as it was)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def _refuse_if_limited(self, device_id: str | None, address: str, now: float) -> None:
        for scope, window, value in (("address", self._by_address, address), ("device", self._by_device, device_id)):
            if value is None:
                continue
            wait = window.retry_after(value, now)
            if wait > 0:
                self.limited.labels(scope).inc()
                self._alert(scope, value, window, wait)
                raise ProblemError(
                    429, PROBLEM_SLUG,
                    f"too many failed device logins from this {scope}; retry after {math.ceil(wait)} s",
                    headers={"Retry-After": str(math.ceil(wait))}, scope=scope)

    def _failed(self, device_id: str | None, address: str, reason: str, now: float) -> None:
        self.failures.labels(reason).inc()
        self._by_address.record(address, now)
        if device_id is not None:
            self._by_device.record(device_id, now)
        log.info("device login failed (%s)", reason, extra={"device_id": device_id, "address": address})

    def _alert(self, scope: str, value: str, window: FailureWindow, wait: float) -> None:
        key = f"device_auth:{scope}:{value}"
        if self._alerts is None or key in self._alerted:
            return
        self._alerted.add(key)
        subject = f"device:{value}" if scope == "device" else f"address:{value}"
        alert = Alert(key, ALERT_KIND, Severity.WARNING, subject,
                      f"{window.limit} failed device logins within {window.window_s:g} s from {subject}; "
                      "refusing further attempts without checking them",
                      {"scope": scope, "limit": window.limit, "window_s": window.window_s})
        self._spawn(self._raise_then_clear(alert, value, window, wait), f"device_auth.alert[{key}]")

    async def _raise_then_clear(self, alert: Alert, value: str, window: FailureWindow, wait: float) -> None:
        alerts = self._alerts
        assert alerts is not None
        try:
            await alerts.raise_alert(alert)
            while wait > 0:  # cleared once the window no longer limits (new failures extend it)
                await asyncio.sleep(wait)
                wait = window.retry_after(value, self._clock())
            await alerts.clear_alert(alert.key, "failed device logins back under the limit")
        except Exception as exc:  # noqa: BLE001 - an alert must not break authentication
            log.warning("device-auth alert %s not stored: %s", alert.key, exc)
        finally:
            self._alerted.discard(alert.key)

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
