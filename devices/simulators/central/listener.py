"""The simulated central platform's TCP listener, which can go down for a while: connections refused (the
listening socket closed, open connections reset), then back on the same port."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time

from aiohttp import web


class Listener:
    def __init__(self, runner: web.AppRunner, host: str, port: int, ssl_context: ssl.SSLContext | None = None) -> None:
        self.runner, self.host, self.port = runner, host, port
        self.ssl_context = ssl_context  # TLS (tests: a trustme CA), kept across outages
        self._site: web.TCPSite | None = None
        self._outage: asyncio.Task[None] | None = None
        self._up = asyncio.Event()
        self.down_until = 0.0  # monotonic
        self.outages = 0

    async def start(self) -> None:
        self._site = web.TCPSite(self.runner, self.host, self.port, reuse_address=True,
                                 ssl_context=self.ssl_context)
        await self._site.start()
        server = getattr(self._site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]  # port 0 asked: keep the bound one for restarts

    @property
    def down(self) -> bool:
        return self._outage is not None and not self._outage.done()

    def down_for(self, seconds: float) -> None:
        """Refuse connections for ``seconds`` from now (extends an outage already running)."""
        self.down_until = time.monotonic() + seconds
        if not self.down:
            self._up.clear()
            self._outage = asyncio.get_running_loop().create_task(self._run_outage(), name="central.outage")

    async def come_up(self) -> None:
        """End an outage early and wait until the port accepts again."""
        self._up.set()
        if self._outage is not None:
            await self._outage

    async def _run_outage(self) -> None:
        await asyncio.sleep(0.05)  # let the answer that asked for the outage leave first
        self.outages += 1
        if self._site is not None:
            await self._site.stop()
            self._site = None
        server = self.runner.server
        for handler in list(getattr(server, "connections", []) if server else []):
            transport = getattr(handler, "transport", None)
            if transport is not None:
                transport.abort()
        while not self._up.is_set() and (remaining := self.down_until - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._up.wait(), timeout=min(remaining, 1.0))
        await self.start()

    async def stop(self) -> None:
        if self._outage is not None and not self._outage.done():
            self._outage.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._outage
