"""`station-edge sim kiosk` / `sim kiosk-fault`: run the four simulated peripherals, flip faults.

station-edge sim kiosk [--dir D] [--port 8765] [--receipts R] [--write-config kiosk.toml]
station-edge sim kiosk-fault printer paper out [--control http://127.0.0.1:8765]
station-edge sim kiosk-status [--control URL]
The same without the daemon's CLI: python -m devices.simulators.kiosk.cli run|fault|status ...
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from devices.simulators.kiosk.bundle import SimulatedKiosk, control_app

DEFAULT_PORT = 8765


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="station-edge sim kiosk", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_arguments(sub.add_parser("run", help="start the simulators on pseudo-terminals and the control API"))
    add_fault_arguments(sub.add_parser("fault", help="flip a fault on a running simulated kiosk"))
    status = sub.add_parser("status", help="list device paths and faults of a running simulated kiosk")
    _add_control(status)
    return parser


def add_run_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("--dir", type=Path, help="where the stable device links go (default: a temp dir)")
    run.add_argument("--host", default="127.0.0.1", help="control API address (loopback by default)")
    run.add_argument("--port", type=int, default=DEFAULT_PORT, help="control API port (0: pick a free one)")
    run.add_argument("--baud", type=int, default=115200,
                     help="line speed the ID card reader, printer and payment terminal are paced at")
    run.add_argument("--receipts", type=Path, help="write each printed receipt here as .txt and .png")
    run.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    run.add_argument("--write-config", type=Path, metavar="FILE",
                     help="write a [[kiosk.kiosks]] config snippet with these device paths to FILE")
    run.add_argument("--kiosk-id", default="K01", help="kiosk id used in the config snippet (default K01)")


def add_fault_arguments(fault: argparse.ArgumentParser) -> None:
    fault.add_argument("device", choices=["idcard", "printer", "scanner", "payment"], help="which peripheral")
    fault.add_argument("fault", help="e.g. paper, cover_open, unplug, replug, silent, card, reboot_mid_sale")
    fault.add_argument("value", nargs="?", help="true/false, a number or a word (default: true)")
    _add_control(fault)


def _add_control(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--control", default=f"http://127.0.0.1:{DEFAULT_PORT}",
                        help=f"control API of the simulated kiosk (default http://127.0.0.1:{DEFAULT_PORT})")


def config_snippet(kiosk_id: str, paths: dict[str, str], baud: int) -> str:
    """A ready-to-use kiosk section for edge.toml pointing at the simulators' stable paths."""
    lines = [
        "# Simulated kiosk from 'station-edge sim kiosk'; the paths stay valid while it runs.",
        "# Also set kiosk = true under [services].",
        "[[kiosk.kiosks]]",
        f'id = "{kiosk_id}"',
    ]
    for kind, path in paths.items():
        lines += ["", "[[kiosk.kiosks.peripherals]]", f'kind = "{kind}"', f'port = "{path}"',
                  f"baud = {9600 if kind == 'scanner' else baud}"]
    return "\n".join(lines) + "\n"


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
            paths = {name: str(info["path"]) for name, info in kiosk.describe().items()}
            for name, path in paths.items():
                print(f"{name}: {path}")
            if args.write_config:
                args.write_config.write_text(config_snippet(args.kiosk_id, paths, args.baud), encoding="utf-8")
                print(f"config: {args.write_config}")
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
    return dispatch(build_parser().parse_args(argv))


def dispatch(args: argparse.Namespace, command: str | None = None) -> int:
    """Run a parsed ``run``/``fault``/``status`` command (shared with ``station-edge sim``)."""
    command = command or args.command
    if command == "run":
        return asyncio.run(run(args))
    try:
        if command == "fault":
            url = f"{args.control}/devices/{args.device}/faults/{args.fault}"
            reply = _call(url, {"value": True if args.value is None else args.value})
        else:
            reply = _call(f"{args.control}/devices")
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(reply, ensure_ascii=False, indent=2))
    return 1 if isinstance(reply, dict) and "error" in reply else 0


def _command(name: str) -> Callable[[argparse.Namespace], int]:
    # edge/cli.py keeps its own ``command`` attribute; pass ours explicitly instead of overwriting it.
    return lambda args: dispatch(args, name)


def register(simulators: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``station-edge sim kiosk``, ``sim kiosk-fault`` and ``sim kiosk-status``."""
    run_parser = simulators.add_parser(
        "kiosk", help="simulated kiosk: ID card reader, printer, scanner, payment terminal on ptys",
        description="Start the four simulated kiosk peripherals on pseudo-terminals and the control API; "
        "print the device paths and the control URL. Ctrl-C stops. See docs/simulators.md.")
    add_run_arguments(run_parser)
    run_parser.set_defaults(func=_command("run"))
    fault_parser = simulators.add_parser(
        "kiosk-fault", help="flip a fault on a running simulated kiosk",
        description="Flip a fault on a running 'station-edge sim kiosk' through its control API, e.g. "
        "'printer paper out', 'printer paper full', 'idcard unplug', 'payment silent'.")
    add_fault_arguments(fault_parser)
    fault_parser.set_defaults(func=_command("fault"))
    status_parser = simulators.add_parser(
        "kiosk-status", help="device paths and fault names of a running simulated kiosk",
        description="Ask a running 'station-edge sim kiosk' for its device paths and fault names.")
    _add_control(status_parser)
    status_parser.set_defaults(func=_command("status"))


if __name__ == "__main__":
    raise SystemExit(main())
