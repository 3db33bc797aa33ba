"""An upload's partial file: appended in order, SHA-256 computed while writing, off the event loop.

Each batch (~1 MiB) is hashed on one worker thread while another writes it (OpenSSL and ``write`` both
release the GIL), so the pair runs at the slower of the two rates instead of their sum. The hash state
lives in memory; after a restart (or any failed write) it is rebuilt by re-reading the file up to the
durable offset, which the database holds: bytes past it are cut, since nothing vouches for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from edge.bodycam.footage.layout import CHUNK


def _hash_all(hashers: Sequence[Any], chunks: Sequence[bytes]) -> None:
    for chunk in chunks:
        for h in hashers:
            h.update(chunk)


def _write_all(fd: int, chunks: Sequence[bytes]) -> int:
    total = 0
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            written = os.write(fd, view)
            view = view[written:]
            total += written
    return total


def _rehash(path: Path, size: int) -> Any:
    digest = hashlib.sha256()
    with path.open("rb", buffering=0) as f:
        remaining = size
        while remaining > 0:
            block = f.read(min(CHUNK * 4, remaining))
            if not block:
                raise OSError(f"{path} is shorter than its recorded offset {size}")
            digest.update(block)
            remaining -= len(block)
    return digest


def _prepare(path: Path, durable: int) -> tuple[int, Any]:
    """Open for appending at ``durable`` (cutting unconfirmed bytes) and rebuild the hash up to there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size < durable:
            raise OSError(f"{path} has {size} bytes, fewer than the durable offset {durable}")
        if size > durable:
            os.ftruncate(fd, durable)
        os.lseek(fd, durable, os.SEEK_SET)
        return fd, _rehash(path, durable)
    except BaseException:
        os.close(fd)
        raise


class PartialFile:
    """Open only while a request writes to it; the hash object survives between requests."""

    def __init__(self, path: Path, executor: Executor) -> None:
        self.path = path
        self._executor = executor
        self._hasher: Any = None
        self._fd: int | None = None
        self.position = 0  # bytes written and hashed (not necessarily durable)

    async def open(self, durable: int) -> None:
        loop = asyncio.get_running_loop()
        if self._hasher is not None and self.position == durable:
            self._fd = await loop.run_in_executor(self._executor, self._open_append)
            return
        self._fd, self._hasher = await loop.run_in_executor(self._executor, _prepare, self.path, durable)
        self.position = durable

    def _open_append(self) -> int:
        fd = os.open(self.path, os.O_WRONLY)
        os.lseek(fd, self.position, os.SEEK_SET)
        return fd

    def hasher_copy(self) -> Any:
        return self._hasher.copy()

    async def write(self, chunks: Sequence[bytes], extra_hasher: Any = None) -> None:
        """Hash and write one batch concurrently; on a failed write the hash is invalid (call ``reset``)."""
        if self._fd is None:
            raise RuntimeError("partial file is not open")
        loop = asyncio.get_running_loop()
        hashers = [self._hasher] if extra_hasher is None else [self._hasher, extra_hasher]
        hashing = loop.run_in_executor(self._executor, _hash_all, hashers, chunks)
        writing = loop.run_in_executor(self._executor, _write_all, self._fd, chunks)
        results = await asyncio.gather(hashing, writing, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                self._hasher = None  # the hash may have moved past what the file holds
                raise result
        self.position += sum(len(c) for c in chunks)

    async def sync(self) -> None:
        if self._fd is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, os.fsync, self._fd)

    async def rollback(self, durable: int, hasher: Any = None) -> None:
        """Cut the file back to ``durable``; keep ``hasher`` if it is the state at that offset."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._truncate, durable)
        self._hasher = hasher
        self.position = durable

    def _truncate(self, size: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.truncate(self.path, size)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def hexdigest(self) -> str:
        if self._hasher is None:
            raise RuntimeError("hash state lost; reopen the partial file")
        return str(self._hasher.hexdigest())
