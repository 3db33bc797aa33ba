"""The station database: one writer thread with group commit, read-only reader connections.

Why one writer: several SQLite writers give "database is locked". All writes are queued to a single
thread that commits whatever is waiting as one transaction (group commit); each job runs in its own
savepoint so one failing job rolls back alone. A job marked durable makes its group commit with
synchronous=FULL (ledgers); telemetry batches may commit with NORMAL.

The writer also tracks the store's health: ``write_error`` names the last failure of the disk or the
database (full, I/O error) until a transaction commits again, for /readyz and the store alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from edge.store.migrations import apply_migrations
from edge.store.queries import Queries, Tx
from edge.store.vacuum import START_CONVERSION_LIMIT, ensure_incremental_vacuum

log = logging.getLogger(__name__)

T = TypeVar("T")
_STOP = object()
_MAX_GROUP = 512


class StoreError(Exception):
    """A database operation failed for a reason other than the caller's own exception."""


class StoreFullError(StoreError):
    """The disk holding the database is full; the write was rolled back."""


class StoreClosedError(StoreError):
    """The store is not open (not yet, or shutting down)."""


def _wrap(exc: sqlite3.Error) -> StoreError:
    if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
        return StoreFullError(f"database disk is full: {exc}")
    return StoreError(f"database error: {exc}")


def _is_outage(exc: BaseException) -> bool:
    """A failure of the disk or the database itself, not of one job's own logic (constraint, bug)."""
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(
        exc, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.DataError)


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open a connection with the project's pragmas (also used by CLI tools on a stopped daemon's db)."""
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA query_only = ON")
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
            # A new file: auto_vacuum can only be chosen before the first table (edge/store/vacuum.py).
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.row_factory = sqlite3.Row
    return conn


@dataclass(slots=True)
class _Job:
    fn: Callable[[Tx], Any]
    durable: bool
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    enqueued: float = field(default_factory=time.perf_counter)
    outside_tx: bool = False  # maintenance (checkpoint, vacuum): runs alone, between transactions


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class Store:
    """Owns the database file. ``await open()`` before use, ``await close()`` to drain and stop."""

    def __init__(
        self,
        path: Path,
        *,
        readers: int = 4,
        on_commit: Callable[[float, int], None] | None = None,
        convert_limit_bytes: int | None = START_CONVERSION_LIMIT,
        on_health: Callable[[str | None], None] | None = None,
    ) -> None:
        self.path = path
        self._convert_limit = convert_limit_bytes  # see edge/store/vacuum.py; None: convert whatever the size
        self._readers = readers
        self._on_commit = on_commit  # (seconds from enqueue to commit of the oldest job, jobs in group)
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._read_pool: ThreadPoolExecutor | None = None
        self._read_local = threading.local()
        self._read_conns: list[sqlite3.Connection] = []
        self._read_lock = threading.Lock()
        self._closing = False
        self.schema_version = 0
        # Health, written by the writer thread (plain attribute stores; read from the loop).
        self._on_health = on_health  # called on the writer thread when write_error changes
        self.write_error: str | None = None
        self.synced_at = time.monotonic()  # last commit with synchronous=FULL (the WAL fsynced)

    @property
    def is_open(self) -> bool:
        return self._writer is not None and self._writer.is_alive() and not self._closing

    @property
    def healthy(self) -> bool:
        """Open and its last write did not fail for a reason of the disk or the database."""
        return self.is_open and self.write_error is None

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        started: asyncio.Future[int] = loop.create_future()
        self._writer = threading.Thread(target=self._writer_main, args=(loop, started), name="store-writer")
        self._writer.start()
        try:
            self.schema_version = await started
        except BaseException:
            self._writer.join()
            self._writer = None
            raise
        self._read_pool = ThreadPoolExecutor(self._readers, thread_name_prefix="store-read")
        self._closing = False

    async def write(self, fn: Callable[[Tx], T], *, durable: bool = True) -> T:
        """Run ``fn`` inside the writer's transaction; return its result once committed."""
        if not self.is_open:
            raise StoreClosedError("store is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Job(fn, durable, future, loop))
        return await future

    async def maintain(self, fn: Callable[[Tx], T]) -> T:
        """Run ``fn`` on the writer's connection outside any transaction (PRAGMAs such as wal_checkpoint
        that refuse to run inside one); the jobs queued before it commit first."""
        if not self.is_open:
            raise StoreClosedError("store is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Job(fn, True, future, loop, outside_tx=True))
        return await future

    @property
    def pending_writes(self) -> int:
        """Jobs waiting for the writer (approximate): housekeeping waits for a calm moment on it."""
        return self._queue.qsize()

    async def read(self, fn: Callable[[Queries], T]) -> T:
        """Run ``fn`` on a read-only connection in the reader pool (sees committed data only)."""
        if self._read_pool is None or self._closing:
            raise StoreClosedError("store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._read_pool, self._run_read, fn)

    async def close(self) -> None:
        """Stop taking writes, commit what is queued, close every connection."""
        if self._writer is None:
            return
        self._closing = True
        self._queue.put(_STOP)
        await asyncio.get_running_loop().run_in_executor(None, self._writer.join)
        self._writer = None
        if self._read_pool is not None:
            self._read_pool.shutdown(wait=True)
            self._read_pool = None
        with self._read_lock:
            for conn in self._read_conns:
                conn.close()
            self._read_conns.clear()

    # -- reader side ----------------------------------------------------------------------------

    def _run_read(self, fn: Callable[[Queries], T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._read_local, "conn", None)
        if conn is None:
            conn = connect(self.path, readonly=True)
            self._read_local.conn = conn
            with self._read_lock:
                self._read_conns.append(conn)
        try:
            return fn(Queries(conn))
        except sqlite3.Error as exc:
            raise _wrap(exc) from exc

    # -- writer side (runs on the store-writer thread) ------------------------------------------

    def _writer_main(self, loop: asyncio.AbstractEventLoop, started: asyncio.Future[int]) -> None:
        conn: sqlite3.Connection | None = None
        try:
            conn = connect(self.path)
            ensure_incremental_vacuum(conn, self._convert_limit)
            version = apply_migrations(conn)
        except BaseException as exc:  # noqa: BLE001 - handed to the opener, which re-raises
            if conn is not None:
                conn.close()
            loop.call_soon_threadsafe(_settle, started, None, exc)
            return
        loop.call_soon_threadsafe(_settle, started, version, None)
        synchronous = "FULL"
        try:
            while True:
                first = self._queue.get()
                if first is _STOP:
                    break
                group = [first]
                stop_after = False
                while len(group) < _MAX_GROUP:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop_after = True
                        break
                    group.append(item)
                jobs: list[_Job] = group  # type: ignore[assignment]
                segment: list[_Job] = []
                for job in jobs:
                    if job.outside_tx:
                        synchronous = self._commit_segment(conn, segment, synchronous)
                        segment = []
                        self._run_outside_tx(conn, job)
                    else:
                        segment.append(job)
                synchronous = self._commit_segment(conn, segment, synchronous)
                if stop_after:
                    break
        finally:
            conn.close()

    def _commit_segment(self, conn: sqlite3.Connection, jobs: list[_Job], synchronous: str) -> str:
        if not jobs:
            return synchronous
        wanted = "FULL" if any(job.durable for job in jobs) else "NORMAL"
        if wanted != synchronous:
            conn.execute(f"PRAGMA synchronous = {wanted}")
        self._commit_group(conn, jobs, synchronous_full=wanted == "FULL")
        return wanted

    def _run_outside_tx(self, conn: sqlite3.Connection, job: _Job) -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = job.fn(Tx(conn))
        except BaseException as exc:  # noqa: BLE001 - delivered to the job's awaiting caller
            error = _wrap(exc) if isinstance(exc, sqlite3.Error) else exc
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
        with contextlib.suppress(RuntimeError):
            job.loop.call_soon_threadsafe(_settle, job.future, result, error)

    def _set_health(self, error: str | None) -> None:
        if (error is None) == (self.write_error is None):
            self.write_error = error
            return
        self.write_error = error
        if error is None:
            log.warning("store writes succeed again")
        else:
            log.error("store writes failing: %s", error)
        if self._on_health is not None:
            try:
                self._on_health(error)
            except Exception:  # a listener must not stop the writer
                log.exception("store health listener failed")

    def _commit_group(self, conn: sqlite3.Connection, jobs: list[_Job], *, synchronous_full: bool = True) -> None:
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        outage: str | None = None
        committed = False
        tx = Tx(conn)
        # A lone job needs no savepoint: if it fails, the whole (one-job) transaction rolls back.
        isolate = len(jobs) > 1
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in jobs:
                if isolate:
                    conn.execute("SAVEPOINT job")
                try:
                    result = job.fn(tx)
                except BaseException as exc:  # noqa: BLE001 - delivered to the job's awaiting caller
                    if _is_outage(exc):
                        outage = str(exc)
                    conn.execute("ROLLBACK TO job" if isolate else "ROLLBACK")
                    if isolate:
                        conn.execute("RELEASE job")
                    outcomes.append((job, None, _wrap(exc) if isinstance(exc, sqlite3.Error) else exc))
                else:
                    if isolate:
                        conn.execute("RELEASE job")
                    outcomes.append((job, result, None))
            if conn.in_transaction:
                conn.execute("COMMIT")
                committed = True
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            if self.write_error is None:
                log.error("store group commit of %d job(s) failed: %s", len(jobs), exc)
            group_error: BaseException = _wrap(exc)
            outcomes = [(job, None, group_error) for job in jobs]
            outage = str(exc)
        else:
            if synchronous_full:
                self.synced_at = time.monotonic()
        if outage is not None or committed:  # a group that only rolled back proves nothing either way
            self._set_health(outage)
        if self._on_commit is not None:
            self._on_commit(time.perf_counter() - jobs[0].enqueued, len(jobs))
        for job, result, error in outcomes:
            with contextlib.suppress(RuntimeError):  # loop already closed: nobody is waiting
                job.loop.call_soon_threadsafe(_settle, job.future, result, error)
