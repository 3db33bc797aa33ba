"""Shared driver model: completion codes, device/media state, operations and status publishing.

Shaped after XFS4IoT: every operation is command -> zero or more events -> exactly one completion,
correlated by request id; device state is separate from media/supply state; changes are pushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from edge.privacy import mask_text

log = logging.getLogger(__name__)

T = TypeVar("T")


class Completion(enum.Enum):
    SUCCESS = "success"
    CANCELED = "canceled"
    TIMEOUT = "timeout"
    HARDWARE_ERROR = "hardware_error"
    DEVICE_NOT_READY = "device_not_ready"
    USER_ERROR = "user_error"
    INVALID_DATA = "invalid_data"


class DeviceState(enum.Enum):
    ONLINE = "online"
    OFFLINE = "offline"  # port open, device silent or reporting offline
    NO_DEVICE = "no_device"  # port cannot be opened / device unplugged
    HARDWARE_ERROR = "hardware_error"
    BUSY = "busy"


class MediaState(enum.Enum):
    """Media/supply state for all kinds: paper for printers, card presence for the card reader."""

    PAPER_FULL = "paper_full"
    PAPER_LOW = "paper_low"
    PAPER_OUT = "paper_out"
    PAPER_JAMMED = "paper_jammed"
    CARD_PRESENT = "card_present"
    CARD_ABSENT = "card_absent"
    NOT_APPLICABLE = "not_applicable"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    kind: str
    device: DeviceState = DeviceState.NO_DEVICE
    media: MediaState = MediaState.UNKNOWN
    detail: str = ""

    def __post_init__(self) -> None:
        # A detail may quote a driver's exception or a peripheral's reply (an ID number read off a card);
        # it leaves through the kiosk API, alerts and logs, so it is masked once, here.
        object.__setattr__(self, "detail", mask_text(self.detail))


@dataclass(frozen=True, slots=True)
class Event:
    request_id: int
    name: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Result(Generic[T]):
    request_id: int
    completion: Completion
    value: T | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.completion is Completion.SUCCESS


class OperationFailed(Exception):
    """Raised inside an operation body to complete with a specific code."""

    def __init__(self, completion: Completion, message: str, value: Any = None) -> None:
        super().__init__(message)
        self.completion = completion
        self.value = value


_ids = itertools.count(1)


@dataclass
class Operation(Generic[T]):
    """Handle to a running operation: iterate events(), await result(), cancel()."""

    name: str
    request_id: int = field(default_factory=lambda: next(_ids))
    _events: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)
    _result: asyncio.Future[Result[T]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    _task: asyncio.Task[None] | None = None
    cancellable: bool = True

    def emit(self, name: str, detail: str = "") -> None:
        self._events.put_nowait(Event(self.request_id, name, detail))

    def complete(self, completion: Completion, value: T | None = None, error: str = "") -> None:
        """First completion wins; later ones are ignored (exactly one completion)."""
        if self._result.done():
            return
        self._result.set_result(Result(self.request_id, completion, value, error))
        self._events.put_nowait(None)

    @property
    def done(self) -> bool:
        return self._result.done()

    def add_done_callback(self, callback: Callable[[Result[T]], None]) -> None:
        """Call ``callback(result)`` once the operation completes (metrics count completions by code)."""
        self._result.add_done_callback(lambda fut: callback(fut.result()))

    async def result(self) -> Result[T]:
        return await asyncio.shield(self._result)

    async def events(self) -> AsyncIterator[Event]:
        while True:
            ev = await self._events.get()
            if ev is None:
                return
            yield ev

    def cancel(self) -> bool:
        """Request cancellation. Refused (False) once the operation passed its point of no return."""
        if self.done or not self.cancellable or self._task is None:
            return False
        self._task.cancel()
        return True


def start_operation(
    name: str, body: Callable[[Operation[T]], Coroutine[Any, Any, T]], lock: asyncio.Lock
) -> Operation[T]:
    """Run ``body`` under the device lock as a named task; map its outcome to exactly one completion."""
    op: Operation[T] = Operation(name)

    async def runner() -> None:
        try:
            async with lock:
                value = await body(op)
            op.complete(Completion.SUCCESS, value)
        except asyncio.CancelledError:
            op.complete(Completion.CANCELED, error="canceled")
        except OperationFailed as exc:
            op.complete(exc.completion, exc.value, str(exc))
        except TimeoutError:
            op.complete(Completion.TIMEOUT, error="timed out")
        except Exception as exc:  # a driver bug must still produce a completion, never a hang
            log.exception("operation %s failed unexpectedly", name)
            op.complete(Completion.HARDWARE_ERROR, error=f"internal error: {exc}")

    op._task = asyncio.get_running_loop().create_task(runner(), name=f"kiosk.op[{name}#{op.request_id}]")
    return op


StatusListener = Callable[[DeviceStatus], Awaitable[None] | None]


class StatusPublisher:
    """Holds the current status and pushes it to subscribers only when it changes."""

    def __init__(self, initial: DeviceStatus) -> None:
        self._status = initial
        self._listeners: list[StatusListener] = []
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[Any]] = set()  # keep references until done

    @property
    def status(self) -> DeviceStatus:
        return self._status

    def subscribe(self, listener: StatusListener) -> Callable[[], None]:
        """Call ``listener`` on each change (sync or async); returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def update(self, **changes: Any) -> None:
        new = DeviceStatus(**{**_asdict(self._status), **changes})
        if new == self._status:
            return
        old, self._status = self._status, new
        log.info(
            "%s status %s/%s -> %s/%s %s",
            new.kind,
            old.device.value,
            old.media.value,
            new.device.value,
            new.media.value,
            new.detail,
        )
        for listener in list(self._listeners):
            try:
                res = listener(new)
            except Exception:  # a faulty subscriber must not break the driver
                log.exception("status listener failed")
                continue
            if asyncio.iscoroutine(res):
                self._spawn(res, f"kiosk.status[{new.kind}]")
        self._spawn(self._notify(), "kiosk.status.notify")

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[DeviceStatus], bool], within: float) -> DeviceStatus:
        """Wait until the status satisfies ``predicate`` (tests and the daemon's health checks)."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: predicate(self._status))
        return self._status


def _asdict(s: DeviceStatus) -> dict[str, Any]:
    return {"kind": s.kind, "device": s.device, "media": s.media, "detail": s.detail}


async def cancel_task(task: asyncio.Task[Any] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
