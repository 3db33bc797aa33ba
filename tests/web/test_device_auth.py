"""Device Basic auth through the real HTTP app: verified secrets cached, failures limited before hashing."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from support.tokens import auth

from edge.broker import Broker
from edge.config import Config, Role
from edge.credentials import hash_secret, new_secret
from edge.daemon import Daemon
from edge.store import devices
from edge.web.auth import PRINCIPAL_KEY, requires
from edge.web.device_auth import ALERT_KIND

LIMITS = {"max_failures_per_address": 3, "max_failures_per_device": 6, "failure_window_s": 30.0}


@requires(Role.TECHNICIAN, devices=True)
async def device_echo(request: web.Request) -> web.Response:
    return web.json_response({"actor": request[PRINCIPAL_KEY].actor})


@dataclass
class Site:
    daemon: Daemon
    base: str
    secret: str

    async def login(self, device: str, secret: str, *, source: str = "127.0.0.1") -> tuple[int, dict, dict]:
        """One device request from a given loopback source address (127.0.0.0/8 is all ours)."""
        header = {"Authorization": "Basic " + base64.b64encode(f"{device}:{secret}".encode()).decode()}
        connector = aiohttp.TCPConnector(local_addr=(source, 0))
        async with aiohttp.ClientSession(connector=connector) as session, \
                session.get(f"{self.base}/api/v1/test/device-echo", headers=header) as response:
            return response.status, dict(response.headers), await response.json(content_type=None)

    async def metric(self, name: str, labels: str = "") -> float:
        async with aiohttp.ClientSession() as session, session.get(f"{self.base}/metrics") as response:
            text = await response.text()
        found = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, flags=re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    async def active_alerts(self) -> list[dict]:
        async with aiohttp.ClientSession() as session, \
                session.get(f"{self.base}/api/v1/alerts?kind={ALERT_KIND}", headers=auth(Role.TECHNICIAN)) as r:
            return list((await r.json())["items"])


@pytest.fixture
async def site(mosquitto: Broker, make_config: Callable[..., Config], request: pytest.FixtureRequest
               ) -> AsyncIterator[Site]:
    limits = getattr(request, "param", LIMITS)
    daemon = Daemon(make_config(mosquitto, http={"device_auth": limits}))
    daemon.extra_routes.append(lambda app: app.router.add_get("/api/v1/test/device-echo", device_echo))
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop))
    await asyncio.wait_for(daemon.ready.wait(), 30)
    secret = new_secret()
    await daemon.store.write(lambda tx: devices.add(tx, device_id="cam-0001", serial="A123456", model="X1",
                                                    secret_hash=hash_secret(secret)))
    assert daemon.http is not None
    try:
        yield Site(daemon, f"http://127.0.0.1:{daemon.http.bound_port}", secret)
    finally:
        stop.set()
        assert await asyncio.wait_for(run, 30) == 0


HASHES = "station_edge_device_auth_hashes_total"


async def test_a_verified_secret_is_cached_and_not_hashed_again(site: Site) -> None:
    status, _, body = await site.login("cam-0001", site.secret)
    assert status == 200 and body == {"actor": "device:cam-0001"}
    assert await site.metric(HASHES) == 1
    for _ in range(3):
        assert (await site.login("cam-0001", site.secret))[0] == 200
    assert await site.metric(HASHES) == 1, "cache hits must not run PBKDF2"
    assert await site.metric("station_edge_device_auth_cache_hits_total") == 3
    status, _, _ = await site.login("cam-0001", site.secret + "x")
    assert status == 401 and await site.metric(HASHES) == 2, "a different secret is never a cache hit"


async def test_a_rotated_or_revoked_secret_voids_the_cache_at_once(site: Site) -> None:
    assert (await site.login("cam-0001", site.secret))[0] == 200
    rotated = new_secret()
    await site.daemon.store.write(lambda tx: tx.execute(
        "UPDATE devices SET secret_hash = ? WHERE device_id = 'cam-0001'", (hash_secret(rotated),)))
    status, _, body = await site.login("cam-0001", site.secret)
    assert status == 401 and body["type"].endswith("invalid-device-credentials"), "old secret within the TTL"
    assert (await site.login("cam-0001", rotated))[0] == 200
    await site.daemon.store.write(lambda tx: tx.execute(
        "UPDATE devices SET removed_at = '2024-01-01T00:00:00Z' WHERE device_id = 'cam-0001'"))
    assert (await site.login("cam-0001", rotated))[0] == 401


async def test_wrong_secrets_hit_the_address_limit_before_any_hash(site: Site) -> None:
    for _ in range(LIMITS["max_failures_per_address"]):
        assert (await site.login("cam-0001", "guess", source="127.0.0.7"))[0] == 401
    hashed = await site.metric(HASHES)
    assert hashed == LIMITS["max_failures_per_address"]
    for _ in range(20):  # a guessing loop now costs no PBKDF2 at all: the hash pool stays free
        status, headers, body = await site.login("cam-0001", "guess", source="127.0.0.7")
        assert status == 429
    assert body["type"] == "urn:station-edge:problem:too-many-failed-logins" and body["scope"] == "address"
    assert 1 <= int(headers["Retry-After"]) <= LIMITS["failure_window_s"]
    assert headers["Content-Type"].startswith("application/problem+json")
    assert await site.metric(HASHES) == hashed
    assert await site.metric("station_edge_device_auth_limited_total", '{scope="address"}') == 20
    status, _, _ = await site.login("cam-0001", site.secret, source="127.0.0.7")
    assert status == 429, "the limit holds even for the right secret from the guessing address"

    status, _, body = await site.login("cam-0001", site.secret, source="127.0.0.8")
    assert status == 200 and body == {"actor": "device:cam-0001"}, "the camera itself, elsewhere, still works"

    async with asyncio.timeout(30):
        while not (alerts := await site.active_alerts()):
            await asyncio.sleep(0.05)
    assert [a["key"] for a in alerts] == ["device_auth:address:127.0.0.7"]
    assert alerts[0]["severity"] == "warning" and alerts[0]["subject"] == "address:127.0.0.7"


async def test_guessing_one_device_from_many_addresses_hits_the_device_limit(site: Site) -> None:
    assert (await site.login("cam-0001", site.secret, source="127.0.0.20"))[0] == 200  # cached from here on
    for n in range(LIMITS["max_failures_per_device"]):
        assert (await site.login("cam-0001", "guess", source=f"127.0.1.{n + 1}"))[0] == 401
    status, _, body = await site.login("cam-0001", "guess", source="127.0.2.1")
    assert status == 429 and body["scope"] == "device"
    assert await site.metric("station_edge_device_auth_limited_total", '{scope="device"}') == 1
    status, _, _ = await site.login("cam-0001", site.secret, source="127.0.0.20")
    assert status == 200, "a camera verified lately is served from the cache during the attack"
    async with asyncio.timeout(30):
        while "device_auth:device:cam-0001" not in [a["key"] for a in await site.active_alerts()]:
            await asyncio.sleep(0.05)


async def test_unknown_devices_count_against_the_address_without_hashing(site: Site) -> None:
    for n in range(LIMITS["max_failures_per_address"]):
        assert (await site.login(f"cam-9{n:03d}", "guess", source="127.0.0.9"))[0] == 401
    assert (await site.login("cam-9999", "guess", source="127.0.0.9"))[0] == 429
    assert await site.metric(HASHES) == 0
    assert await site.metric("station_edge_device_auth_failures_total", '{reason="unknown_device"}') == 3


@pytest.mark.parametrize("site", [{**LIMITS, "failure_window_s": 0.5}], indirect=True)
async def test_the_alert_clears_once_the_window_has_emptied(site: Site) -> None:
    for _ in range(LIMITS["max_failures_per_address"]):
        assert (await site.login("cam-0001", "guess", source="127.0.0.5"))[0] == 401
    assert (await site.login("cam-0001", "guess", source="127.0.0.5"))[0] == 429
    async with asyncio.timeout(30):
        while not await site.active_alerts():
            await asyncio.sleep(0.05)
        while await site.active_alerts():
            await asyncio.sleep(0.05)
    status, _, _ = await site.login("cam-0001", site.secret, source="127.0.0.5")
    assert status == 200, "past the window the address may log in again"


async def test_password_checks_queue_on_their_own_thread_not_the_shared_pool(site: Site) -> None:
    import threading

    # Eight guesses from eight addresses, each under its limit, all needing a 100k-iteration PBKDF2 ...
    guesses = [asyncio.create_task(site.login("cam-0001", f"guess-{n}", source=f"127.0.3.{n + 1}"))
               for n in range(8)]
    while await site.metric(HASHES) < 1:  # ... the first is being hashed now
        await asyncio.sleep(0.005)
    # ... while work on the shared pool (where footage hashing and copies run) goes straight through.
    await asyncio.to_thread(lambda: None)
    assert not all(g.done() for g in guesses), "the shared pool waited behind the password checks"
    assert [status for status, _, _ in await asyncio.gather(*guesses)] == [401] * 8
    hashing = [t for t in threading.enumerate() if t.name.startswith("device-auth")]
    assert len(hashing) == 1, "http.device_auth.hash_workers = 1"
