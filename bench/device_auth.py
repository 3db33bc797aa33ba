"""Device Basic-auth throughput through the real HTTP app: the verified-secret cache against checking
PBKDF2 on every request (cache_ttl_s = 0, the behaviour before the cache), in the same run.

Prints ``device_auth: ours X req/s, baseline Y req/s, ratio Z`` and how many password hashes a burst of
wrong guesses from one address cost.
"""

from __future__ import annotations

import asyncio
import base64
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from edge.config import Role, parse
from edge.credentials import hash_secret, new_secret
from edge.daemon import Daemon
from edge.store import devices
from edge.web.auth import requires

REQUESTS = 300
GUESSES = 200


@requires(Role.TECHNICIAN, devices=True)
async def echo(request: web.Request) -> web.Response:
    return web.json_response({})


def hashes(daemon: Daemon) -> float:
    return daemon.metrics.registry.get_sample_value("station_edge_device_auth_hashes_total") or 0.0


async def measure(tmp: Path, ttl: float) -> tuple[float, float]:
    config = parse({"station": {"id": "BENCH", "data_dir": str(tmp / f"data-{ttl}")}, "http": {"port": 0,
                    "device_auth": {"cache_ttl_s": ttl, "max_failures_per_address": 10}},
                    "services": {"mqtt": False, "bodycam": False, "cases": False}, "footage": {"enabled": False}})
    daemon = Daemon(config)
    daemon.extra_routes.append(lambda app: app.router.add_get("/api/v1/bench", echo))
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop))
    await asyncio.wait_for(daemon.ready.wait(), 60)
    secret = new_secret()
    await daemon.store.write(lambda tx: devices.add(tx, device_id="cam-0001", serial="A123456", model="X",
                                                    secret_hash=hash_secret(secret)))
    assert daemon.http is not None
    url = f"http://127.0.0.1:{daemon.http.bound_port}/api/v1/bench"

    def basic(password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"cam-0001:{password}".encode()).decode()}

    async with aiohttp.ClientSession() as session:
        start = time.perf_counter()
        for _ in range(REQUESTS):
            async with session.get(url, headers=basic(secret)) as response:
                assert response.status == 200
        rate = REQUESTS / (time.perf_counter() - start)
        before = hashes(daemon)
        for _ in range(GUESSES):
            async with session.get(url, headers=basic("guess")) as response:
                assert response.status in (401, 429), (response.status, await response.text())
        guess_hashes = hashes(daemon) - before
    stop.set()
    await run
    return rate, guess_hashes


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ours, ours_guess = await measure(Path(tmp), 60.0)
        base, _ = await measure(Path(tmp), 0.0)
    print(f"device_auth: ours {ours:.0f} req/s, baseline {base:.0f} req/s, ratio {ours / base:.1f}")
    print(f"device_auth_guessing: {GUESSES} wrong guesses from one address cost {ours_guess:.0f} password hashes "
          f"(before the limiter: {GUESSES})")


if __name__ == "__main__":
    asyncio.run(main())
