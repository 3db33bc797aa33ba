"""``station-edge sim …``: the simulators' command group (bodycams, central, uploads, dock, kiosk).

Registered from outside the shipped ``edge`` package through the ``station_edge.commands`` entry point
(devices/cli.py), so edge never imports the simulators.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeAlias
from urllib.parse import urlsplit

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def cmd_bodycams(args: argparse.Namespace) -> int:
    from devices.simulators.bodycam_mqtt import BodycamSimulator, SimSettings, load_credentials

    url = urlsplit(args.broker)
    settings = SimSettings(
        host=url.hostname or "127.0.0.1", port=url.port or 1883, count=args.count, seed=args.seed,
        speed=args.speed, duration_s=args.duration,
        credentials=load_credentials(args.credentials) if args.credentials else {},
    )
    sim = BodycamSimulator(settings)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await sim.run(stop)

    asyncio.run(main())
    print(f"published {sim.published} messages from {args.count} cameras; {sim.commands_applied} commands applied")
    return 0


def cmd_central(args: argparse.Namespace) -> int:
    from devices.simulators.central import start_central
    from devices.simulators.central.cli_ingest import ingest_setup
    from devices.simulators.central.seaweed import SeaweedError

    start = datetime.fromisoformat(args.start) if args.start else datetime.now(UTC)

    async def serve(work: Path) -> None:
        async with contextlib.AsyncExitStack() as stack:
            setup = (await stack.enter_async_context(ingest_setup(args, work))
                     if args.ingest or args.seaweed else None)
            sim = await stack.enter_async_context(start_central(
                seed=args.seed, start=start, host=args.host, port=args.port, late_after_polls=args.late_after_polls,
                late_after_s=args.late_after_s, ingest=setup.settings if setup else None))
            print(f"simulated central platform on {sim.url}/api/v1/cases (seed {args.seed}); Ctrl-C stops",
                  flush=True)
            if setup is not None and sim.ingest is not None:
                for fault in setup.faults:
                    sim.ingest.arm(fault)
                print(f"  ingest            {sim.url}/api/v1/ingest/batch  {sim.url}/api/v1/ingest/manifest",
                      flush=True)
                print(f"  faults            {sim.url}/sim/ingest/faults  (GET, POST {{\"fault\": ...}}, DELETE)",
                      flush=True)
                print("\n".join(setup.notes), flush=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()

    with contextlib.ExitStack() as folders:
        work = args.dir or Path(folders.enter_context(tempfile.TemporaryDirectory(prefix="sim-central-")))
        try:
            asyncio.run(serve(work))
        except KeyboardInterrupt:
            return 0
        except (OSError, ValueError, SeaweedError) as exc:  # bad key files, a busy port, weed failing
            print(f"sim central: {exc}", file=sys.stderr)
            return 2
    return 0


def cmd_uploads(args: argparse.Namespace) -> int:
    from devices.simulators.uploader import Fault, simulate_cameras

    credentials: dict[str, str] = json.loads(args.credentials.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="sim-uploads-") as work:
        results = asyncio.run(simulate_cameras(
            args.url, credentials, Path(work), count=args.count, seconds=args.seconds, fault=Fault(args.fault),
            marked=args.marked))
    for device, result in results:
        print(f"{device}: HTTP {result.status} {result.state or ''} footage {result.footage_id} "
              f"offset {result.offset}" + (f" problem {result.problem['type']}" if result.problem else ""))
    return 0 if all(r.status in (201, 204) for _, r in results) or args.fault != "none" else 1


def cmd_dock(args: argparse.Namespace) -> int:
    from devices.simulators.dock import fill_dock

    for device in args.device:
        for path in fill_dock(args.mount, device, count=args.count, seconds=args.seconds, seed=args.seed):
            print(path)
    return 0


def _register_bodycams(simulators: Commands) -> None:
    sim = simulators.add_parser("bodycams", help="simulated body-camera fleet over MQTT", description=(
        "Run N simulated cameras (officers, shifts, GPS walks, recordings, SOS, battery, clock drift, "
        "network loss with last wills), one MQTT connection each; deterministic for a seed."))
    sim.add_argument("--count", type=int, default=6, help="number of cameras (default 6)")
    sim.add_argument("--broker", default="mqtt://127.0.0.1:1883", help="broker URL (default mqtt://127.0.0.1:1883)")
    sim.add_argument("--seed", type=int, default=1, help="random seed (same seed, same fleet)")
    sim.add_argument("--credentials", type=Path, help='JSON file {"cam-0001": "secret", ...}; none: anonymous')
    sim.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second (default 1)")
    sim.add_argument("--duration", type=float, help="stop after this many real seconds (default: Ctrl-C)")
    sim.set_defaults(func=cmd_bodycams)


def _register_central(simulators: Commands) -> None:
    from devices.simulators.central.cli_ingest import add_ingest_options

    central = simulators.add_parser("central", help="simulated central platform (case feed, ingest)", description=(
        "Serve the case feed of a simulated day consistent with the body-camera fleet of the same seed; with "
        "--ingest also the uplink's ingest API, with --seaweed also a SeaweedFS S3 store (docs/simulators.md)."))
    central.add_argument("--port", type=int, default=8700, help="TCP port (default 8700; 0 picks a free one)")
    central.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    central.add_argument("--seed", type=int, default=42, help="scenario seed, as given to the fleet (default 42)")
    central.add_argument("--start", help="fleet start time, ISO 8601 with a zone (default: now)")
    central.add_argument("--late-after-polls", type=int, default=3, help="the late case appears after N polls")
    central.add_argument("--late-after-s", type=float, default=None, help="... or after this many seconds")
    add_ingest_options(central)
    central.set_defaults(func=cmd_central)


def _register_footage(simulators: Commands) -> None:
    up = simulators.add_parser("uploads", help="cameras recording and uploading footage (tus)", description=(
        "Each camera in --credentials records real H.264/AAC segments (320x240 by default) and uploads them "
        "to the station with the tus protocol and its device secret; --fault injects a failure."))
    up.add_argument("--url", default="http://127.0.0.1:8080", help="station HTTP base URL")
    up.add_argument("--credentials", type=Path, required=True, help='JSON file {"cam-0001": "secret", ...}')
    up.add_argument("--count", type=int, default=2, help="segments per camera (default 2)")
    up.add_argument("--seconds", type=float, default=2.0, help="segment length in seconds (default 2)")
    up.add_argument("--marked", action="store_true", help="mark the segments as evidence")
    up.add_argument("--fault", default="none", choices=["none", "disconnect", "wrong-hash", "truncate"],
                    help="disconnect mid-upload (then resume), declare a wrong hash, or stop half-way")
    up.set_defaults(func=cmd_uploads)
    dock = simulators.add_parser("dock", help="fill a dock folder with camera segments", description=(
        "Write real segments under MOUNT/<device>/DCIM/100BWC/, as a docked camera's storage appears to the "
        "station's dock watcher (footage.dock_dir)."))
    dock.add_argument("--mount", type=Path, required=True, help="the directory the station watches")
    dock.add_argument("--device", action="append", required=True, help="camera id (repeat for several)")
    dock.add_argument("--count", type=int, default=3, help="segments per camera (default 3)")
    dock.add_argument("--seconds", type=float, default=2.0, help="segment length in seconds (default 2)")
    dock.add_argument("--seed", type=int, default=0, help="first seed (different seeds give different bytes)")
    dock.set_defaults(func=cmd_dock)


def register(commands: Commands) -> None:
    """Add the ``sim`` group and every simulator under it."""
    from devices.simulators.kiosk import cli as kiosk_cli

    sim = commands.add_parser("sim", help="run device and central-platform simulators", description=(
        "Simulators for technicians: every device the station talks to, and the central platform. "
        "See docs/simulators.md."))
    simulators = sim.add_subparsers(dest="simulator", metavar="SIMULATOR", required=True)
    for register_one in (_register_central, kiosk_cli.register, _register_bodycams, _register_footage):
        register_one(simulators)
