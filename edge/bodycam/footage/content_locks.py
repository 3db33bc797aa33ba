"""One lock per content hash, shared by ingest, retention and reconciliation within the daemon.

Files are named by content, so the same bytes ingested again land on the path of a file that retention
may be deleting at that very moment. Whoever decides about a stored file (ingest: "is it already here,
place it, register it"; retention: "re-check, tombstone, unlink") holds the lock of its SHA-256 for the
whole decision, so the two never interleave. Locks exist only while someone holds or waits for them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class ContentLocks:
    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, sha256: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(sha256, (asyncio.Lock(), 0))
        self._locks[sha256] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[sha256]
            if users == 1:
                del self._locks[sha256]
            else:
                self._locks[sha256] = (lock, users - 1)

    def users(self, sha256: str) -> int:
        """How many hold or wait for this content's lock (metrics, tests)."""
        return self._locks.get(sha256, (None, 0))[1]

    def __len__(self) -> int:
        return len(self._locks)
