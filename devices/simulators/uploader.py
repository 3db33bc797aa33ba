"""A body camera's (or dock's) upload client: tus 1.0 over HTTP with device credentials, with faults.

    client = TusUploader("http://127.0.0.1:8080", "cam-0001", secret)
    result = await client.upload(path, marked=False)                 # resumes by itself after a cut
    await client.upload(path, fault=Fault.DISCONNECT)                # cut the connection half-way
    await client.upload(path, fault=Fault.WRONG_HASH)                # declare a wrong SHA-256
    await client.upload(path, fault=Fault.TRUNCATE)                  # send only part of the file, then stop
"""

from __future__ import annotations

import asyncio
import base64
import enum
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = 1 << 20


class Fault(enum.StrEnum):
    NONE = "none"
    DISCONNECT = "disconnect"  # drop the connection half-way through the body, then resume
    WRONG_HASH = "wrong-hash"  # declare a SHA-256 that is not the file's
    TRUNCATE = "truncate"  # send only the first half and give up (the upload stays unfinished)


@dataclass
class UploadResult:
    location: str
    status: int
    offset: int
    footage_id: int | None = None
    state: str | None = None
    problem: dict[str, Any] | None = None
    requests: list[int] = field(default_factory=list)  # status of each request made


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


class _Cut(Exception):
    """Raised inside the request body to make aiohttp abort the connection."""


async def _file_body(path: Path, offset: int, stop_after: int | None) -> AsyncIterator[bytes]:
    sent = 0
    with path.open("rb") as f:
        f.seek(offset)
        while block := f.read(CHUNK):
            if stop_after is not None and sent + len(block) > stop_after:
                yield block[: stop_after - sent]
                await asyncio.sleep(0.05)  # let the bytes leave before the cut
                raise _Cut
            sent += len(block)
            yield block


class TusUploader:
    def __init__(self, base_url: str, device_id: str, secret: str, *, session: aiohttp.ClientSession | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.device_id = device_id
        basic = base64.b64encode(f"{device_id}:{secret}".encode()).decode()
        self.auth_headers = headers or {"Authorization": f"Basic {basic}"}
        self._session = session
        self._own_session = session is None

    async def __aenter__(self) -> TusUploader:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _kw(self, extra: dict[str, str]) -> dict[str, Any]:
        return {"headers": {**TUS, **self.auth_headers, **extra}}

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "use 'async with TusUploader(...)'"
        return self._session

    async def create(self, size: int, sha256: str, name: str, *, marked: bool = False, device: str | None = None,
                     recorded_at: str | None = None) -> tuple[int, dict[str, str], dict[str, Any] | None]:
        meta = {"filename": name, "sha256": sha256}
        if marked:
            meta["marked"] = "true"
        if device:
            meta["device"] = device
        if recorded_at:
            meta["recorded_at"] = recorded_at
        async with self.session.post(f"{self.base_url}/api/v1/uploads", **self._kw(
                {"Upload-Length": str(size), "Upload-Metadata": metadata(**meta)})) as r:
            problem = await r.json(content_type=None) if r.status >= 400 else None
            return r.status, dict(r.headers), problem

    async def offset(self, location: str) -> int:
        async with self.session.head(self.base_url + location, **self._kw({})) as r:
            r.raise_for_status()
            return int(r.headers["Upload-Offset"])

    async def patch(self, location: str, path: Path, offset: int, *, stop_after: int | None = None
                    ) -> tuple[int, dict[str, str], dict[str, Any] | None]:
        headers = {"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"}
        if stop_after is None:
            headers["Content-Length"] = str((await asyncio.to_thread(path.stat)).st_size - offset)
        async with self.session.patch(self.base_url + location, data=_file_body(path, offset, stop_after),
                                      **self._kw(headers)) as r:
            problem = await r.json(content_type=None) if r.status >= 400 else None
            return r.status, dict(r.headers), problem

    async def upload(self, path: Path, *, name: str | None = None, marked: bool = False, fault: Fault = Fault.NONE,
                     recorded_at: str | None = None, device: str | None = None, retries: int = 5) -> UploadResult:
        size = (await asyncio.to_thread(path.stat)).st_size
        sha = await asyncio.to_thread(file_sha256, path)
        if fault == Fault.WRONG_HASH:
            sha = hashlib.sha256(sha.encode()).hexdigest()
        status, headers, problem = await self.create(size, sha, name or path.name, marked=marked,
                                                     recorded_at=recorded_at, device=device)
        result = UploadResult(headers.get("Location", ""), status, int(headers.get("Upload-Offset", 0)),
                              problem=problem, requests=[status])
        if status != 201:
            return result
        if "Footage-Id" in headers:  # already stored: deduplicated by hash
            result.footage_id, result.state = int(headers["Footage-Id"]), headers.get("Footage-State")
            return result
        cut_once = fault == Fault.DISCONNECT
        for _ in range(retries + 1):
            offset = await self.offset(result.location)
            stop = None
            if cut_once or fault == Fault.TRUNCATE:
                stop = max(1, (size - offset) // 2)
            try:
                status, headers, problem = await self.patch(result.location, path, offset, stop_after=stop)
            except (aiohttp.ClientError, _Cut, ConnectionError):
                result.requests.append(0)
                if fault == Fault.TRUNCATE:
                    result.offset = await self.offset(result.location)
                    return result
                cut_once = False
                await asyncio.sleep(0.05)
                continue
            result.requests.append(status)
            result.status, result.problem = status, problem
            result.offset = int(headers.get("Upload-Offset", offset))
            if status == 204 and "Footage-Id" in headers:
                result.footage_id, result.state = int(headers["Footage-Id"]), headers.get("Footage-State")
                return result
            if status != 204:
                if problem and "footage_id" in problem:
                    result.footage_id, result.state = int(problem["footage_id"]), "quarantined"
                return result
        return result


async def simulate_cameras(url: str, credentials: dict[str, str], work: Path, *, count: int = 2,
                           seconds: float = 2.0, fault: Fault = Fault.NONE, marked: bool = False,
                           seed: int = 0) -> list[tuple[str, UploadResult]]:
    """Every camera records ``count`` real segments (PyAV) and uploads them; cameras run concurrently."""
    from devices.simulators.media import make_segment

    async def camera(index: int, device: str, secret: str) -> list[tuple[str, UploadResult]]:
        done = []
        async with TusUploader(url, device, secret) as client:
            for i in range(count):
                path = work / f"{device}_{seed + i:05d}.mp4"
                await asyncio.to_thread(make_segment, path, seconds=seconds, seed=seed + 1000 * index + i)
                done.append((device, await client.upload(path, marked=marked, fault=fault)))
        return done

    groups = await asyncio.gather(*(camera(n, d, s) for n, (d, s) in enumerate(sorted(credentials.items()))))
    return [item for group in groups for item in group]
