"""Footage tests: a running daemon with the footage service, enrolled cameras, and helpers."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from devices.simulators.uploader import TusUploader
from edge.config import Config, Role
from edge.credentials import hash_secret
from edge.daemon import Daemon
from edge.store import devices
from support.tokens import auth


@dataclass
class Station:
    daemon: Daemon
    url: str
    footage_root: Path
    secrets: dict[str, str]
    session: aiohttp.ClientSession

    def camera(self, device_id: str = "cam-0001") -> TusUploader:
        return TusUploader(self.url, device_id, self.secrets[device_id], session=self.session)

    async def get(self, path: str, role: Role = Role.SUPERVISOR, **kw: Any) -> tuple[int, Any]:
        async with self.session.get(self.url + path, headers=auth(role), **kw) as r:
            body = await r.json(content_type=None) if "json" in r.content_type else await r.read()
            return r.status, body

    async def idle(self) -> None:
        assert self.daemon.footage is not None and self.daemon.footage.ingestor is not None
        await self.daemon.footage.ingestor.idle()


async def enrol(daemon: Daemon, device_id: str) -> str:
    secret = secrets.token_urlsafe(12)
    hashed = hash_secret(secret, iterations=1000)  # tests: fast hashing; production uses 100k iterations
    serial = device_id[-7:].upper().rjust(7, "0")
    await daemon.store.write(lambda tx: devices.add(tx, device_id=device_id, serial=serial, model="sim",
                                                    secret_hash=hashed))
    return secret


async def start_station(config: Config, cameras: tuple[str, ...] = ("cam-0001", "cam-0002")
                        ) -> tuple[Daemon, asyncio.Task[int], asyncio.Event]:
    daemon = Daemon(config)
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop), name="test.daemon")
    async with asyncio.timeout(30):
        while not (daemon.ready.is_set() and daemon.footage is not None and daemon.footage.started.is_set()):
            if run.done():
                raise RuntimeError(f"daemon exited with {run.result()}")
            await asyncio.sleep(0.02)
    return daemon, run, stop


class run_station:
    def __init__(self, config: Config, cameras: tuple[str, ...] = ("cam-0001", "cam-0002")) -> None:
        self.config = config
        self.cameras = cameras

    async def __aenter__(self) -> Station:
        self.daemon, self.run, self.stop = await start_station(self.config)
        assert self.daemon.http is not None
        known = {}
        for cam in self.cameras:
            existing = await self.daemon.store.read(lambda q, c=cam: devices.get(q, c))
            if existing is None:
                known[cam] = await enrol(self.daemon, cam)
        self.session = aiohttp.ClientSession()
        root = self.config.footage.root(self.config.station.data_dir)
        url = f"http://127.0.0.1:{self.daemon.http.bound_port}"
        self.station = Station(self.daemon, url, root, known, self.session)
        return self.station

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()
        self.stop.set()
        assert await self.run == 0
