"""`station-edge sim kiosk` / `sim kiosk-fault`: run the four simulated peripherals, flip faults.

python -m devices.simulators.kiosk.cli run [--dir D] [--port 8765] [--receipts R]
python -m devices.simulators.kiosk.cli fault printer paper out [--control http://127.0.0.1:8765]
python -m devices.simulators.kiosk.cli status [--control URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from aiohttp import web

from devices.simulators.kiosk.bundle import SimulatedKiosk, control_app

DEFAULT_PORT = 8765


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="station-edge sim kiosk", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the simulators on pseudo-terminals and the control API")
    run.add_argument("--dir", type=Path, help="where the stable device links go (default: a temp dir)")
    run.add_argument("--host", default="127.0.0.1", help="control API address (loopback by default)")
    run.add_argument("--port", type=int, default=DEFAULT_PORT, help="control API port (0: pick a free one)")
    run.add_argument("--baud", type=int, default=115200)
    run.add_argument("--receipts", type=Path, help="write each printed receipt here as .txt and .png")
    run.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    fault = sub.add_parser("fault", help="flip a fault on a running simulated kiosk")
    fault.add_argument("device", choices=["idcard", "printer", "scanner", "payment"])
    fault.add_argument("fault", help="e.g. paper, cover_open, unplug, replug, silent, card, reboot_mid_sale")
    fault.add_argument("value", nargs="?", help="true/false, a number or a word (default: true)")
    fault.add_argument("--control", default=f"http://127.0.0.1:{DEFAULT_PORT}")
    status = sub.add_parser("status", help="list device paths and faults of a running simulated kiosk")
    status.add_argument("--control", default=f"http://127.0.0.1:{DEFAULT_PORT}")
    return parser


async def run(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        link_dir = args.dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kiosk-sim-")))
        link_dir.mkdir(parents=True, exist_ok=True)
        if args.receipts:
            args.receipts.mkdir(parents=True, exist_ok=True)
        kiosk = SimulatedKiosk(link_dir, baud=args.baud, receipts_dir=args.receipts)
        await kiosk.start()
        runner = web.AppRunner(control_app(kiosk))
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        port = runner.addresses[0][1] if runner.addresses else args.port
        try:
            for name, info in kiosk.describe().items():
                print(f"{name}: {info['path']}")
            print(f"control: http://{args.host}:{port}", flush=True)
            await _wait_for_stop(args.duration)
        finally:
            await runner.cleanup()
            await kiosk.stop()
    return 0


async def _wait_for_stop(duration: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(duration):
                await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _call(url: str, data: dict[str, Any] | None = None) -> Any:
    if not url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise ValueError("the control API is loopback only")
    body = None if data is None else json.dumps(data).encode()
    req = urllib.request.Request(url, data=body, method="POST" if data is not None else "GET")  # noqa: S310
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback URL checked above
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read() or b"{}") | {"status": exc.code}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return asyncio.run(run(args))
    try:
        if args.command == "fault":
            url = f"{args.control}/devices/{args.device}/faults/{args.fault}"
            reply = _call(url, {"value": True if args.value is None else args.value})
        else:
            reply = _call(f"{args.control}/devices")
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(reply, ensure_ascii=False, indent=2))
    return 1 if isinstance(reply, dict) and "error" in reply else 0


if __name__ == "__main__":
    raise SystemExit(main())
