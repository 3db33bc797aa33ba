from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from support.tokens import auth

from edge.broker import Broker
from edge.config import Config, Role
from edge.daemon import Daemon
from edge.store import custody


@pytest.fixture
async def station(mosquitto: Broker, make_config: Callable[..., Config]) -> AsyncIterator[tuple[Daemon, str]]:
    daemon = Daemon(make_config(mosquitto))
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop))
    await asyncio.wait_for(daemon.ready.wait(), 60)
    assert daemon.http is not None
    yield daemon, f"http://127.0.0.1:{daemon.http.bound_port}"
    stop.set()
    assert await asyncio.wait_for(run, 60) == 0


async def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        body = await response.json(content_type=None)
        return response.status, response.headers.get("Content-Type", ""), body


async def test_no_token_is_401_problem_json(station: tuple[Daemon, str]) -> None:
    _, base = station
    status, ctype, body = await get(f"{base}/api/v1/status")
    assert status == 401 and ctype.startswith("application/problem+json")
    assert body["type"] == "urn:station-edge:problem:unauthorized"
    assert body["status"] == 401 and "Bearer" in body["detail"]


async def test_unknown_token_is_401(station: tuple[Daemon, str]) -> None:
    _, base = station
    status, _, body = await get(f"{base}/api/v1/status", {"Authorization": "Bearer not-a-real-token"})
    assert status == 401 and body["type"].endswith("invalid-token")
    status, _, body = await get(f"{base}/api/v1/status", {"Authorization": "Basic abc"})
    assert status == 401 and "Bearer" in body["detail"]


async def test_wrong_role_is_403(station: tuple[Daemon, str]) -> None:
    _, base = station
    status, ctype, body = await get(f"{base}/api/v1/dead-letters", auth(Role.SUPERVISOR))
    assert status == 403 and ctype.startswith("application/problem+json")
    assert body["type"].endswith("forbidden") and "technician" in body["detail"]
    status, _, _ = await get(f"{base}/api/v1/status", auth(Role.KIOSK))
    assert status == 403


async def test_right_role_gets_status_and_audit(station: tuple[Daemon, str]) -> None:
    daemon, base = station
    await daemon.store.write(lambda tx: custody.append(tx, actor="t", action="a", subject="s", reason="r"))
    status, _, body = await get(f"{base}/api/v1/status", auth(Role.TECHNICIAN))
    assert status == 200
    assert body["services"]["mqtt"]["running"] and body["services"]["http"]["running"]
    status, _, body = await get(f"{base}/api/v1/audit/verify", auth(Role.SUPERVISOR))
    assert status == 200 and body["ok"] and body["entries"] == 1
    assert body["checked_by"] == "supervisor:test-supervisor"


async def test_bad_parameter_and_unknown_route_are_problems(station: tuple[Daemon, str]) -> None:
    _, base = station
    status, _, body = await get(f"{base}/api/v1/dead-letters?limit=abc", auth(Role.TECHNICIAN))
    assert status == 400 and body["parameter"] == "limit"
    status, ctype, body = await get(f"{base}/nope")
    assert status == 404 and ctype.startswith("application/problem+json") and body["type"].endswith("not-found")


async def test_health_ready_and_metrics(station: tuple[Daemon, str]) -> None:
    _, base = station
    assert (await get(f"{base}/healthz"))[0] == 200
    status, _, body = await get(f"{base}/readyz")
    assert status == 200 and body == {"ready": True, "checks": {"store": True, "mqtt": True}}
    async with aiohttp.ClientSession() as session, session.get(f"{base}/metrics") as response:
        text = await response.text()
    assert 'station_edge_service_up{service="mqtt"} 1.0' in text
    assert "station_edge_mqtt_connected 1.0" in text
    assert "station_edge_store_write_seconds_bucket" in text
    assert "station_edge_mqtt_messages_rejected_total" in text or "station_edge_mqtt_messages_rejected" in text


async def test_readyz_is_503_while_the_broker_is_away(make_config: Callable[..., Config],
                                                       own_broker: Broker) -> None:
    daemon = Daemon(make_config(own_broker))
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop))
    await asyncio.wait_for(daemon.ready.wait(), 60)
    assert daemon.http is not None and daemon.link is not None
    await daemon.link.wait_connected(30)
    await own_broker.stop()
    async with asyncio.timeout(30):
        while daemon.link.connected:
            await asyncio.sleep(0.02)
    status, _, body = await get(f"http://127.0.0.1:{daemon.http.bound_port}/readyz")
    assert status == 503 and body["checks"]["mqtt"] is False
    stop.set()
    assert await asyncio.wait_for(run, 60) == 0


async def test_device_basic_auth_only_on_device_routes(mosquitto: Broker, make_config: Callable[..., Config]) -> None:
    import base64

    from aiohttp import web

    from edge.credentials import hash_secret, new_secret, verify_secret
    from edge.store import devices
    from edge.web.auth import PRINCIPAL_KEY, requires

    @requires(Role.TECHNICIAN, devices=True)
    async def device_echo(request: web.Request) -> web.Response:
        return web.json_response({"actor": request[PRINCIPAL_KEY].actor})

    daemon = Daemon(make_config(mosquitto))
    daemon.extra_routes.append(lambda app: app.router.add_get("/api/v1/test/device-echo", device_echo))
    secret = new_secret()
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop))
    await asyncio.wait_for(daemon.ready.wait(), 60)
    assert verify_secret(hash_secret(secret), secret)
    await daemon.store.write(lambda tx: devices.add(tx, device_id="cam-0001", serial="A123456", model="X1",
                                                    secret_hash=hash_secret(secret)))
    assert daemon.http is not None
    base = f"http://127.0.0.1:{daemon.http.bound_port}"

    def basic(user: str, password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}

    try:
        status, _, body = await get(f"{base}/api/v1/test/device-echo", basic("cam-0001", secret))
        assert status == 200 and body == {"actor": "device:cam-0001"}
        status, _, body = await get(f"{base}/api/v1/test/device-echo", basic("cam-0001", "wrong"))
        assert status == 401 and body["type"].endswith("invalid-device-credentials")
        status, _, body = await get(f"{base}/api/v1/test/device-echo", basic("cam-9999", secret))
        assert status == 401
        status, _, body = await get(f"{base}/api/v1/status", basic("cam-0001", secret))
        assert status == 401 and "Bearer" in body["detail"]
        status, _, _ = await get(f"{base}/api/v1/test/device-echo", auth(Role.TECHNICIAN))
        assert status == 200
    finally:
        stop.set()
        assert await asyncio.wait_for(run, 60) == 0
