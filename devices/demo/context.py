"""What a demo part (one simulator started with ``station-edge demo``) gets, and how it runs its work."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.broker import Broker
from edge.config import Config, Role
from edge.daemon import Daemon


@dataclass
class DemoContext:
    directory: Path
    config: Config
    broker: Broker
    daemon: Daemon
    http_url: str
    token_files: dict[Role, Path]
    notes: list[str] = field(default_factory=list)  # "where to look" lines added by simulators


DemoPart = Callable[[DemoContext], AbstractAsyncContextManager[None]]


@contextlib.asynccontextmanager
async def in_background(work: Coroutine[Any, Any, None], name: str) -> AsyncIterator[asyncio.Task[None]]:
    """A simulator's work runs as long as the demo does; stopping the demo cancels it (its errors were
    logged where they happened: the demo only shows what a station does, it never fails on a simulator)."""
    task = asyncio.create_task(work, name=name)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
