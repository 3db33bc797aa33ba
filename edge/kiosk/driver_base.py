"""Base for serial peripheral drivers: link lifecycle, one-command-at-a-time lock, inbox, status polling."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

from edge.kiosk.device import (
    Completion,
    DeviceState,
    DeviceStatus,
    MediaState,
    Operation,
    OperationFailed,
    StatusListener,
    StatusPublisher,
    cancel_task,
    start_operation,
)
from edge.kiosk.serial_port import LinkConfig, NotConnected, SerialLink
from edge.kiosk.trace import Redactor, redact_hex

log = logging.getLogger(__name__)

F = TypeVar("F")  # decoded inbound item type
T = TypeVar("T")
CompletionListener = Callable[[str, Completion], None]


class SerialDriver(Generic[F]):
    """Subclasses decode bytes in ``_on_bytes`` and put items into the inbox; they implement ``_poll``."""

    kind = "device"
    redactor: Redactor = staticmethod(redact_hex)
    initial_media = MediaState.UNKNOWN

    def __init__(self, link: LinkConfig, *, poll_interval: float = 5.0) -> None:
        self.link = SerialLink(link, self._on_bytes, self._on_link_state, type(self).redactor)
        self.publisher = StatusPublisher(DeviceStatus(self.kind, media=self.initial_media))
        self.poll_interval = poll_interval
        self._lock = asyncio.Lock()
        self._inbox: asyncio.Queue[F] = asyncio.Queue()
        self._poll_task: asyncio.Task[None] | None = None
        self._poll_now = asyncio.Event()
        self._fault_state: DeviceState | None = None  # set by polls: offline/hardware_error
        self._completion_listeners: list[CompletionListener] = []

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.link.start()
        self._poll_task = asyncio.get_running_loop().create_task(
            self._poll_loop(), name=f"kiosk.poll[{self.link.config.name or self.kind}]"
        )

    async def stop(self) -> None:
        await cancel_task(self._poll_task)
        self._poll_task = None
        await self.link.stop()

    async def __aenter__(self) -> SerialDriver[F]:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- status ----------------------------------------------------------------------------------------
    @property
    def status(self) -> DeviceStatus:
        return self.publisher.status

    def subscribe(self, listener: StatusListener) -> Callable[[], None]:
        return self.publisher.subscribe(listener)

    async def wait_status(self, predicate: Callable[[DeviceStatus], bool], within: float) -> DeviceStatus:
        return await self.publisher.wait_for(predicate, within)

    def on_completion(self, listener: CompletionListener) -> None:
        """Call ``listener(operation_name, completion)`` when any operation of this driver completes."""
        self._completion_listeners.append(listener)

    def _set_state(self, device: DeviceState, detail: str = "", media: MediaState | None = None) -> None:
        changes: dict[str, Any] = {"device": device, "detail": detail}
        if media is not None:
            changes["media"] = media
        self.publisher.update(**changes)

    def _on_link_state(self, connected: bool) -> None:
        if connected:
            self._drain_inbox()
            self._reset_codec()
            self._poll_now.set()  # learn the device's state right away
        else:
            self._set_state(DeviceState.NO_DEVICE, "port closed or device unplugged", MediaState.UNKNOWN)

    async def _poll_loop(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel that races the event.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._poll_now.wait()
            self._poll_now.clear()
            # Never queue behind (or interrupt) a running job: skip this round if the device is busy.
            if not self.link.connected or self._lock.locked():
                continue
            async with self._lock:
                try:
                    await self._poll()
                except (TimeoutError, NotConnected):
                    if self.link.connected:
                        self._set_state(DeviceState.OFFLINE, "no reply to status poll")
                except OperationFailed as exc:
                    self._set_state(DeviceState.HARDWARE_ERROR, str(exc))

    def request_poll(self) -> None:
        self._poll_now.set()

    # -- subclass hooks --------------------------------------------------------------------------------
    def _on_bytes(self, data: bytes) -> None:
        raise NotImplementedError

    def _reset_codec(self) -> None:
        raise NotImplementedError

    async def _poll(self) -> None:
        raise NotImplementedError

    # -- helpers ---------------------------------------------------------------------------------------
    def _start(self, name: str, body: Callable[[Operation[T]], Coroutine[Any, Any, T]]) -> Operation[T]:
        op = start_operation(f"{self.kind}.{name}", self._guard(body), self._lock)
        if self._completion_listeners:
            op.add_done_callback(lambda res: self._completed(name, res.completion))
        return op

    def _completed(self, name: str, completion: Completion) -> None:
        for listener in list(self._completion_listeners):
            try:
                listener(name, completion)
            except Exception:  # metrics must never break a driver
                log.exception("completion listener failed")

    def _guard(
        self, body: Callable[[Operation[T]], Coroutine[Any, Any, T]]
    ) -> Callable[[Operation[T]], Coroutine[Any, Any, T]]:
        async def run(op: Operation[T]) -> T:
            if not self.link.connected:
                raise OperationFailed(Completion.DEVICE_NOT_READY, "device not connected")
            if self.status.device in (DeviceState.ONLINE, DeviceState.OFFLINE, DeviceState.NO_DEVICE):
                self._set_state(DeviceState.BUSY, op.name)
            try:
                return await body(op)
            except NotConnected as exc:
                raise OperationFailed(Completion.HARDWARE_ERROR, f"device lost: {exc}") from exc
            finally:
                # The follow-up poll settles the real state; until then the device answered, so online.
                if self.status.device is DeviceState.BUSY:
                    self._set_state(DeviceState.ONLINE if self.link.connected else DeviceState.NO_DEVICE)
                self._poll_now.set()

        return run

    def _drain_inbox(self) -> None:
        while not self._inbox.empty():
            self._inbox.get_nowait()
