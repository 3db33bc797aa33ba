"""Async front of the media probe: a bounded worker pool, so PyAV never runs on the event loop."""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import signal
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import TracebackType
from typing import Literal, Self, TypeVar

from edge.bodycam.media.info import MediaInfo
from edge.bodycam.media.probe import probe_file
from edge.bodycam.media.thumbnail import write_thumbnail

log = logging.getLogger(__name__)

PoolKind = Literal["thread", "process"]
_T = TypeVar("_T")


class MediaProber:
    """Probe footage and make thumbnails in ``workers`` processes (or threads).

    Processes are the default (docs/media.md has the measurements): throughput on 2 cores is the same as
    threads (PyAV releases the GIL while demuxing and decoding), the loop's worst stall is lower, and a crash
    of FFmpeg on a hostile file kills one worker instead of the daemon; it comes back as a damaged probe and
    the pool is rebuilt. The price is ~250 ms to start a worker and ~65 MB RSS each.
    ``kind="thread"`` suits tests and small tools. At most ``workers`` jobs run at once; further callers
    wait on the loop, where they can be cancelled.
    """

    def __init__(self, workers: int = 2, *, kind: PoolKind = "process", deep: bool = False) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self._workers = workers
        self._kind: PoolKind = kind
        self._deep = deep
        self._slots = asyncio.Semaphore(workers)
        self._pool = self._new_pool()
        self._closed = False

    async def probe(self, path: str | Path) -> MediaInfo:
        """Probe ``path``; never raises for bad media (a damaged :class:`MediaInfo` comes back instead)."""
        try:
            return await self._run(functools.partial(probe_file, Path(path), deep=self._deep), path)
        except BrokenProcessPool:
            return MediaInfo.broken(await _size(Path(path)), "probe crashed the media worker")

    async def thumbnail(self, path: str | Path, dest: str | Path) -> bool:
        """Write a keyframe JPEG of ``path`` to ``dest``; False if the file has no decodable keyframe."""
        try:
            return await self._run(functools.partial(write_thumbnail, Path(path), Path(dest)), path)
        except BrokenProcessPool:
            return False

    def close(self) -> None:
        """Stop taking work; queued jobs are cancelled, running ones finish in the background."""
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def aclose(self) -> None:
        """Close and wait (off the loop) for running jobs to finish."""
        self.close()
        await asyncio.to_thread(self._pool.shutdown, wait=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _run(self, job: Callable[[], _T], path: str | Path) -> _T:
        # job is a partial of a module-level function, so a process pool can pickle it.
        if self._closed:
            raise RuntimeError("MediaProber is closed")
        async with self._slots:
            pool = self._pool
            try:
                return await asyncio.get_running_loop().run_in_executor(pool, job)
            except BrokenProcessPool:
                log.error("media worker died on %s; restarting the pool", path)
                self._replace_pool(pool)
                raise

    def _new_pool(self) -> Executor:
        if self._kind == "thread":
            return ThreadPoolExecutor(self._workers, thread_name_prefix="media")
        # spawn, not fork: forking a process that runs threads (asyncio's, SQLite's writer) can deadlock.
        return ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_ignore_interrupts)

    def _replace_pool(self, broken: Executor) -> None:
        if self._pool is broken and not self._closed:
            broken.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()


async def _size(path: Path) -> int:
    try:
        return (await asyncio.to_thread(path.stat)).st_size
    except OSError:
        return 0


def _ignore_interrupts() -> None:
    """Worker initializer: Ctrl-C in a terminal reaches the whole process group, but shutting the pool
    down is the parent's job; a worker that dies on SIGINT only prints a traceback and loses the probe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
