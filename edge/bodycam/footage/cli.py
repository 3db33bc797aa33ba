"""``station-edge sim uploads`` (cameras uploading real segments over tus) and ``sim dock`` (a dock folder)."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path


def cmd_sim_uploads(args: argparse.Namespace) -> int:
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


def cmd_sim_dock(args: argparse.Namespace) -> int:
    from devices.simulators.dock import fill_dock

    for device in args.device:
        for path in fill_dock(args.mount, device, count=args.count, seconds=args.seconds, seed=args.seed):
            print(path)
    return 0


def register_sim(simulators: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    up.set_defaults(func=cmd_sim_uploads)
    dock = simulators.add_parser("dock", help="fill a dock folder with camera segments", description=(
        "Write real segments under MOUNT/<device>/DCIM/100BWC/, as a docked camera's storage appears to the "
        "station's dock watcher (footage.dock_dir)."))
    dock.add_argument("--mount", type=Path, required=True, help="the directory the station watches")
    dock.add_argument("--device", action="append", required=True, help="camera id (repeat for several)")
    dock.add_argument("--count", type=int, default=3, help="segments per camera (default 3)")
    dock.add_argument("--seconds", type=float, default=2.0, help="segment length in seconds (default 2)")
    dock.add_argument("--seed", type=int, default=0, help="first seed (different seeds give different bytes)")
    dock.set_defaults(func=cmd_sim_dock)
