"""Demo part: two simulated cameras record real segments and upload them; footage appears in the API."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from devices.demo.context import DemoContext, in_background
from edge.credentials import hash_secret
from edge.store import devices

log = logging.getLogger(__name__)
CAMERAS = {"demo-up-1": "UPL0001", "demo-up-2": "UPL0002"}


async def _enrol(ctx: DemoContext) -> dict[str, str]:
    credentials = {}
    secrets_file = ctx.directory / "secrets" / "upload-cameras.txt"
    known = dict(line.split(" ", 1) for line in secrets_file.read_text().splitlines()) if secrets_file.exists() else {}
    for device, serial in CAMERAS.items():
        exists = await ctx.daemon.store.read(functools.partial(devices.get, device_id=device))
        if exists is not None and device in known:
            credentials[device] = known[device]
            continue
        if exists is not None:
            continue
        secret = secrets.token_urlsafe(16)
        hashed = await asyncio.to_thread(hash_secret, secret)
        await ctx.daemon.store.write(functools.partial(
            devices.add, device_id=device, serial=serial, model="demo uploader", secret_hash=hashed))
        credentials[device] = secret
    secrets_file.write_text("".join(f"{d} {s}\n" for d, s in credentials.items()))
    return credentials


async def _upload(url: str, credentials: dict[str, str]) -> None:
    from devices.simulators.uploader import simulate_cameras

    with tempfile.TemporaryDirectory(prefix="demo-footage-") as work:
        seed = secrets.randbelow(1_000_000)  # new bytes every run, so nothing is deduplicated away
        results = await simulate_cameras(url, credentials, Path(work), count=3, seed=seed)
    for device, result in results:
        log.info("demo upload from %s: %s (footage %s)", device, result.state, result.footage_id)


@contextlib.asynccontextmanager
async def part(ctx: DemoContext) -> AsyncIterator[None]:
    if ctx.daemon.footage is None:
        yield
        return
    credentials = await _enrol(ctx)
    ctx.notes.append(f"  footage     {ctx.http_url}/api/v1/footage  (supervisor token; 2 cameras upload 3 segments "
                     f"each over tus)")
    ctx.notes.append(f"              files under {ctx.daemon.footage.layout.root}")
    async with in_background(_upload(ctx.http_url, credentials), "demo.footage.uploads"):
        yield
