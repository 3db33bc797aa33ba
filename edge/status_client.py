"""Client side of ``station-edge status``: ask a running daemon over its HTTP API."""

from __future__ import annotations

import json

import aiohttp


async def fetch_status(host: str, port: int, token: str) -> tuple[int, str]:
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
    timeout = aiohttp.ClientTimeout(total=5)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(f"{base}/readyz") as response:
                ready = await response.json()
            if not token:
                return (0 if ready["ready"] else 1), json.dumps(ready, indent=2)
            headers = {"Authorization": f"Bearer {token}"}
            async with session.get(f"{base}/api/v1/status", headers=headers) as response:
                status = await response.json()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return 1, f"station-edge is not answering on {base}: {exc}"
    return (0 if ready["ready"] else 1), json.dumps({"ready": ready, "status": status}, indent=2)
