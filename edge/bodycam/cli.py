"""``station-edge devices | officers``: enrolment of body cameras and officers."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from edge.bodycam.enrolment import Enrolment, EnrolmentError
from edge.bodycam.provisioning import ProvisioningError
from edge.config import Config, ConfigError, load
from edge.store import Store
from edge.store import enrolment as rows

T = TypeVar("T")


def _run(args: argparse.Namespace, job: Callable[[Enrolment, Store], Awaitable[T]]) -> T | int:
    try:
        config: Config = load(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2

    async def main() -> T:
        store = Store(config.database_path)
        await store.open()
        try:
            return await job(Enrolment(config, store), store)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except (EnrolmentError, ProvisioningError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _print(data: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for row in data if isinstance(data, list) else [data]:
        print("  ".join(f"{k}={v}" for k, v in row.items()))


def cmd_add(args: argparse.Namespace) -> int:
    async def job(enrolment: Enrolment, store: Store) -> int:
        enrolled = await enrolment.add_device(args.id, args.serial, args.model, actor=f"technician:{args.actor}")
        if args.json:
            print(json.dumps({enrolled.device_id: enrolled.secret}))
        else:
            print(f"device {enrolled.device_id} enrolled; its secret (shown once, set it on the camera now):")
            print(enrolled.secret)
            if not enrolled.provisioned:
                print("note: bodycam.broker_dir is not set: broker not provisioned", file=sys.stderr)
        return 0

    result = _run(args, job)
    return result if isinstance(result, int) else 1


def cmd_list(args: argparse.Namespace) -> int:
    async def job(enrolment: Enrolment, store: Store) -> int:
        devices = await store.read(lambda q: rows.devices(q, include_removed=args.all))
        _print(devices, args.json)
        return 0

    return int(_run(args, job))


def cmd_assign(args: argparse.Namespace) -> int:
    async def job(enrolment: Enrolment, store: Store) -> int:
        ident = await enrolment.assign(args.id, args.officer, datetime.fromisoformat(args.start),
                                       datetime.fromisoformat(args.end), actor=f"technician:{args.actor}")
        print(f"assignment {ident}: {args.id} -> officer {args.officer} from {args.start} to {args.end}")
        return 0

    return int(_run(args, job))


def cmd_remove(args: argparse.Namespace) -> int:
    async def job(enrolment: Enrolment, store: Store) -> int:
        if not await enrolment.remove_device(args.id, actor=f"technician:{args.actor}"):
            print(f"error: no enrolled device {args.id}", file=sys.stderr)
            return 1
        print(f"device {args.id} removed; the broker refuses it from now on")
        return 0

    return int(_run(args, job))


def cmd_provision(args: argparse.Namespace) -> int:
    async def job(enrolment: Enrolment, store: Store) -> int:
        if not await enrolment.provision():
            print("error: bodycam.broker_dir is not set: this station does not manage its broker",
                  file=sys.stderr)
            return 1
        print(f"broker files written in {enrolment.broker_dir}; reload requested")
        return 0

    return int(_run(args, job))


def cmd_officer_add(args: argparse.Namespace) -> int:
    async def job(enrolment: Enrolment, store: Store) -> int:
        _print(await enrolment.add_officer(args.number, args.name, args.unit_no, args.unit_name), False)
        return 0

    return int(_run(args, job))


def cmd_officer_list(args: argparse.Namespace) -> int:
    async def job(enrolment: Enrolment, store: Store) -> int:
        _print(await store.read(rows.officers), args.json)
        return 0

    return int(_run(args, job))


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, required=True, help="path to edge.toml (its database is used)")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    devices = commands.add_parser("devices", help="enrol body cameras", description=(
        "Enrol, list, assign and remove body cameras. Changes rewrite the broker's password and ACL files "
        "in bodycam.broker_dir and request a broker reload (bodycam.broker_reload). Run as the service user."))
    actions = devices.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="enrol a camera and print its secret once",
                             description="Enrol a camera; prints its generated secret once.")
    _common(add)
    add.add_argument("--id", required=True, help="device id (MQTT username and topic level), e.g. cam-0001")
    add.add_argument("--serial", required=True, help="GA/T 947 device serial, 7 characters A-Z 0-9")
    add.add_argument("--model", default="", help="camera model")
    add.add_argument("--actor", default="cli", help="who enrols (recorded in the custody log)")
    add.add_argument("--json", action="store_true", help='print {"device_id": "secret"} (for --credentials)')
    add.set_defaults(func=cmd_add)
    listing = actions.add_parser("list", help="list enrolled cameras", description="List enrolled cameras.")
    _common(listing)
    listing.add_argument("--all", action="store_true", help="include removed devices")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=cmd_list)
    assign = actions.add_parser("assign", help="assign a camera to an officer for a shift",
                                description="Assign a camera to an officer from START to END (ISO 8601).")
    _common(assign)
    assign.add_argument("--id", required=True, help="device id")
    assign.add_argument("--officer", required=True, help="6-digit officer number")
    assign.add_argument("--start", required=True, help="shift start, ISO 8601 with offset")
    assign.add_argument("--end", required=True, help="shift end, ISO 8601 with offset")
    assign.add_argument("--actor", default="cli", help="who assigns (recorded)")
    assign.set_defaults(func=cmd_assign)
    remove = actions.add_parser("remove", help="remove a camera (the broker refuses it after reload)",
                                description="Remove a camera; kept for history, refused by the broker.")
    _common(remove)
    remove.add_argument("--id", required=True, help="device id")
    remove.add_argument("--actor", default="cli", help="who removes (recorded in the custody log)")
    remove.set_defaults(func=cmd_remove)
    provision = actions.add_parser(
        "provision", help="write the broker's files now (the daemon's own account first)",
        description="Write the password and ACL files from the enrolment and request a broker reload. Run "
                    "once at installation, before the daemon's first start: it holds the daemon's own account.")
    _common(provision)
    provision.set_defaults(func=cmd_provision)

    officers = commands.add_parser("officers", help="enrol officers", description="Enrol and list officers.")
    o_actions = officers.add_subparsers(dest="officers_command", metavar="ACTION", required=True)
    o_add = o_actions.add_parser("add", help="add an officer", description="Add an officer (GA/T 947 fields).")
    _common(o_add)
    o_add.add_argument("--number", required=True, help="6-digit officer number")
    o_add.add_argument("--name", required=True, help="officer name")
    o_add.add_argument("--unit-no", required=True, help="12-digit unit number")
    o_add.add_argument("--unit-name", required=True, help="unit name")
    o_add.set_defaults(func=cmd_officer_add)
    o_list = o_actions.add_parser("list", help="list officers", description="List officers.")
    _common(o_list)
    o_list.add_argument("--json", action="store_true", help="print JSON")
    o_list.set_defaults(func=cmd_officer_list)
