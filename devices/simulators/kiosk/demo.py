"""The simulated kiosk in ``station-edge demo``: four pty peripherals and the fault control API, in-process.

The demo config points the daemon's kiosk at the simulators' stable paths (``config_toml``); the links
are symlinks the simulators create, so the daemon's drivers find them as soon as this part starts (they
retry opening with backoff meanwhile, like a kiosk booting before its USB hub).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from devices.simulators.kiosk.bundle import SimulatedKiosk, control_app
from devices.simulators.kiosk.cli import DEFAULT_PORT, config_snippet
from edge.config import Role

if TYPE_CHECKING:
    from devices.demo.context import DemoContext

KIOSK_ID = "K01"
DEVICES = ("idcard", "printer", "scanner", "payment")


def link_dir(directory: Path) -> Path:
    return directory / "kiosk-sim"


def receipts_dir(directory: Path) -> Path:
    return directory / "receipts"


def config_toml(directory: Path) -> str:
    """The demo station's kiosk section (``services.kiosk = true`` is set by the caller)."""
    paths = {name: str(link_dir(directory) / name) for name in DEVICES}
    return config_snippet(KIOSK_ID, paths, 115200)


def _control_port() -> int:
    # The documented default, so `station-edge sim kiosk-fault ...` works without --control when free.
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", DEFAULT_PORT))
        except OSError:
            return 0
    return DEFAULT_PORT


@contextlib.asynccontextmanager
async def part(ctx: DemoContext) -> AsyncIterator[None]:
    links, receipts = link_dir(ctx.directory), receipts_dir(ctx.directory)
    links.mkdir(parents=True, exist_ok=True)
    receipts.mkdir(parents=True, exist_ok=True)
    kiosk = SimulatedKiosk(links, receipts_dir=receipts)
    await kiosk.start()
    runner = web.AppRunner(control_app(kiosk), access_log=None)
    try:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", _control_port()).start()
        control = f"http://127.0.0.1:{runner.addresses[0][1]}"
        ctx.notes.extend(
            [
                f"  kiosk       {ctx.http_url}/api/v1/kiosks/{KIOSK_ID}/devices  "
                f"(token: {ctx.token_files[Role.TECHNICIAN]})",
                f"              simulated peripherals in {links}; receipts (.txt, .png) in {receipts}",
                f"              flip a fault: station-edge sim kiosk-fault printer paper out --control {control}",
                "              (then 'paper full'; also 'idcard unplug'/'replug', 'payment silent true'/'false')",
            ]
        )
        yield
    finally:
        await runner.cleanup()
        await kiosk.stop()
