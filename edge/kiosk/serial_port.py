"""Serial transport: the only module that imports pyserial.

A ``SerialLink`` owns one port URL (device path, pty path, ``socket://``, ``loop://``), keeps it open with
jittered backoff, and delivers received bytes to a callback. Reads never busy-poll: ports with a file
descriptor are watched with ``loop.add_reader``; fd-less handlers (``loop://``) get a reader thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import serial

from edge.backoff import jittered_backoff
from edge.kiosk.trace import Direction, Redactor, redact_hex

log = logging.getLogger(__name__)

_READ_SIZE = 4096


class NotConnected(ConnectionError):
    """The port is closed or the device vanished; the link is reconnecting."""


@dataclass(frozen=True, slots=True)
class LinkConfig:
    url: str
    baudrate: int = 115200
    reconnect_min: float = 0.05
    reconnect_max: float = 5.0
    trace: bool = False
    name: str = ""


class _Port:
    """One open port; raises OSError/serial errors when the device goes away."""

    def __init__(
        self,
        ser: Any,
        loop: asyncio.AbstractEventLoop,
        on_data: Callable[[bytes], None],
        on_lost: Callable[[BaseException | None], None],
    ) -> None:
        self._ser = ser
        self._loop = loop
        self._on_data = on_data
        self._on_lost = on_lost
        self._closed = False
        self._thread: threading.Thread | None = None
        self.fd: int | None = None
        with contextlib.suppress(AttributeError, OSError, ValueError, NotImplementedError):
            fd = ser.fileno()
            self.fd = fd if isinstance(fd, int) and fd >= 0 else None
        if self.fd is not None:
            os.set_blocking(self.fd, False)
            loop.add_reader(self.fd, self._readable)
        else:
            # loop:// and friends have no fd: a thread blocks in read() with a short timeout.
            ser.timeout = 0.05
            self._thread = threading.Thread(target=self._thread_reader, name="serial-reader", daemon=True)
            self._thread.start()

    def _readable(self) -> None:
        assert self.fd is not None
        try:
            data = os.read(self.fd, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:  # EIO: the pty master closed or the USB device was unplugged
            self._lost(exc)
            return
        if not data:
            self._lost(None)
            return
        self._on_data(data)

    def _thread_reader(self) -> None:
        while not self._closed:
            try:
                data = self._ser.read(max(1, self._ser.in_waiting))
            except Exception as exc:  # noqa: BLE001 - any handler error means the port is gone
                self._loop.call_soon_threadsafe(self._lost, exc)
                return
            if data and not self._closed:
                self._loop.call_soon_threadsafe(self._on_data, bytes(data))

    def _lost(self, exc: BaseException | None) -> None:
        if self._closed:
            return
        self.close()
        self._on_lost(exc)

    async def write(self, data: bytes) -> None:
        if self._closed:
            raise NotConnected("port closed")
        if self.fd is None:
            await asyncio.to_thread(self._ser.write, data)
            return
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                await self._wait_writable()
                continue
            except OSError as exc:
                self._lost(exc)
                raise NotConnected(str(exc)) from exc
            view = view[n:]

    async def _wait_writable(self) -> None:
        assert self.fd is not None
        fut: asyncio.Future[None] = self._loop.create_future()

        def ready() -> None:
            if not fut.done():
                fut.set_result(None)

        self._loop.add_writer(self.fd, ready)
        try:
            await fut
        finally:
            self._loop.remove_writer(self.fd)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.fd is not None:
            self._loop.remove_reader(self.fd)
        with contextlib.suppress(Exception):
            self._ser.close()


def open_serial(url: str, baudrate: int) -> Any:
    """Open by URL; pyserial picks the handler (device path, socket://, loop://, spy://, ...)."""
    return serial.serial_for_url(url, baudrate=baudrate, timeout=0, write_timeout=None, exclusive=None)


class SerialLink:
    """Keeps a port open, reconnecting with jittered exponential backoff; push model for received bytes."""

    def __init__(
        self,
        config: LinkConfig,
        on_data: Callable[[bytes], None],
        on_state: Callable[[bool], None] | None = None,
        redactor: Redactor = redact_hex,
    ) -> None:
        self.config = config
        self._on_data = on_data
        self._on_state = on_state
        self._redactor = redactor
        self._port: _Port | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost_event = asyncio.Event()
        self._connected_event = asyncio.Event()
        self.reconnects = 0
        self._label = config.name or config.url

    @property
    def connected(self) -> bool:
        return self._port is not None

    async def wait_connected(self, within: float | None = None) -> None:
        async with asyncio.timeout(within):
            await self._connected_event.wait()

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"kiosk.serial[{self._label}]")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._drop(None, notify=False)

    async def __aenter__(self) -> SerialLink:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def write(self, data: bytes) -> None:
        port = self._port
        if port is None:
            raise NotConnected(f"{self._label} not connected")
        if self.config.trace:
            log.debug("%s >> %s", self._label, self._redactor(Direction.TX, data))
        await port.write(data)

    def _received(self, data: bytes) -> None:
        if self.config.trace:
            log.debug("%s << %s", self._label, self._redactor(Direction.RX, data))
        self._on_data(data)

    def _drop(self, exc: BaseException | None, notify: bool = True) -> None:
        port, self._port = self._port, None
        if port is not None:
            port.close()
            self._connected_event.clear()
            self._lost_event.set()
            if notify and self._on_state is not None:
                self._on_state(False)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        attempt = 0
        failed_once = False
        while True:
            try:
                ser = await asyncio.to_thread(open_serial, self.config.url, self.config.baudrate)
            except (serial.SerialException, OSError, ValueError) as exc:
                if not failed_once:  # log a failure once, and the recovery once
                    log.warning("%s: cannot open (%s); retrying with backoff", self._label, exc)
                    failed_once = True
                attempt += 1
                await asyncio.sleep(jittered_backoff(
                    attempt, min_s=self.config.reconnect_min, max_s=self.config.reconnect_max))
                continue
            self._lost_event.clear()
            self._port = _Port(ser, loop, self._received, self._port_lost)
            self._connected_event.set()
            if failed_once or self.reconnects:
                log.info("%s: port open again", self._label)
            failed_once = False
            attempt = 0
            if self._on_state is not None:
                self._on_state(True)
            await self._lost_event.wait()
            self.reconnects += 1

    def _port_lost(self, exc: BaseException | None) -> None:
        if isinstance(exc, OSError) and exc.errno not in (errno.EIO, errno.ENXIO, errno.EBADF, None):
            log.warning("%s: port error %s", self._label, exc)
        else:
            log.info("%s: device disappeared", self._label)
        self._drop(exc)
