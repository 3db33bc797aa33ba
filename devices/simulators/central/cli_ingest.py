"""``station-edge sim central --ingest [--seaweed]``: the options and the start-up of the ingest side."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from devices.simulators.central.faults import Fault, FaultSpecError, parse_fault
from devices.simulators.central.ingest import IngestSettings
from devices.simulators.central.object_store import StoreAccess
from devices.simulators.central.seaweed import DEFAULT_BUCKET, SeaweedServer, running_seaweed


def add_ingest_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("ingest side (the uplink's receiver)")
    group.add_argument("--ingest", action="store_true", help="also serve /api/v1/ingest/batch and /manifest")
    group.add_argument("--seaweed", action="store_true",
                       help="start SeaweedFS (S3 on loopback, keys enforced) and check manifests against it")
    group.add_argument("--dir", type=Path, help="working folder for keys and SeaweedFS data (default: a temp dir)")
    group.add_argument("--station-keys", type=Path,
                       help='JSON {"<station id>": "<api key>"}; default: one station ST-1 with a fresh key')
    group.add_argument("--receipt-key", type=Path, help="file holding the receipt HMAC key (default: fresh)")
    group.add_argument("--max-items", type=int, default=500, help="items per batch (default 500)")
    group.add_argument("--fault", action="append", default=[], type=_fault, metavar="SPEC",
                       help="arm a fault at start: KIND[:COUNT][,name=value...], e.g. unavailable:3,retry_after=10; "
                            "kinds: unavailable insufficient-storage error slow reset garbage wrong-hash "
                            "wrong-signature foreign-receipt down")


def _fault(text: str) -> Fault:
    try:
        return parse_fault(text)
    except FaultSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _private(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600)
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class IngestSetup:
    settings: IngestSettings
    faults: list[Fault]
    notes: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def ingest_setup(args: argparse.Namespace, work: Path) -> AsyncIterator[IngestSetup]:
    """Keys (read from files, generated when not given), SeaweedFS when asked, and what to print."""
    secrets = work / "secrets"
    keys_file = args.station_keys or _private(secrets / "station-keys.json",
                                              json.dumps({"ST-1": os.urandom(16).hex()}, indent=2) + "\n")
    receipt_file = args.receipt_key or _private(secrets / "receipt.key", os.urandom(32).hex() + "\n")
    notes = [f"  station API keys  {keys_file}  (Authorization: Bearer <key>)",
             f"  receipt HMAC key  {receipt_file}"]
    async with contextlib.AsyncExitStack() as stack:
        store = None
        if args.seaweed:
            server = await stack.enter_async_context(running_seaweed(SeaweedServer(work / "seaweed")))
            central, station = server.identity("central"), server.identity("station")
            store = StoreAccess(server.endpoint, central.access_key, central.secret_key)
            s3_file = _private(secrets / "s3-station.json", json.dumps({
                "endpoint": server.endpoint, "bucket": DEFAULT_BUCKET, "access_key": station.access_key,
                "secret_key": station.secret_key}, indent=2) + "\n")
            notes += [f"  S3 (SeaweedFS)    {server.endpoint}  bucket {DEFAULT_BUCKET}; station's keys in {s3_file}",
                      f"                    every identity: {server.directory / 's3-identities.json'}; "
                      f"log {server.log_path}"]
        settings = IngestSettings.from_files(keys_file, receipt_file, store=store, max_items=args.max_items)
        yield IngestSetup(settings, list(args.fault), notes)
