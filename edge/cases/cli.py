"""``station-edge cases …``: local cases and the review queue, through the running daemon's API."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import quote, urlencode

import aiohttp

from edge.config import ConfigError, Role, load

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _api(config_path: Path) -> tuple[str, str] | None:
    try:
        config = load(config_path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None
    token = next((t.token for t in config.api.tokens if t.role is Role.SUPERVISOR and t.token), "")
    host = "127.0.0.1" if config.http.host in ("0.0.0.0", "::") else config.http.host  # noqa: S104
    return f"http://{host}:{config.http.port}", token


async def _call(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session, \
            session.request(method, url, json=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


def _request(args: argparse.Namespace, method: str, path: str, body: dict[str, Any] | None = None) -> int:
    api = _api(args.config)
    if api is None:
        return 2
    base, token = api
    try:
        status, answer = asyncio.run(_call(method, base + path, token, body))
    except (aiohttp.ClientError, TimeoutError) as exc:
        print(f"station-edge is not answering on {base}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2, ensure_ascii=False), file=sys.stdout if status < 400 else sys.stderr)
    return 0 if status < 400 else 1


def _window(text: str) -> dict[str, str | None]:
    start, _, end = text.partition("/")
    return {"start": start, "end": end or None}


def cmd_create(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"kind": args.kind, "title": args.title, "officers": args.officer,
                            "windows": [_window(w) for w in args.window]}
    if args.number:
        body["number"] = args.number
    if args.lat is not None and args.lon is not None:
        body["location"] = {"lat": args.lat, "lon": args.lon, "radius_m": args.radius_m}
    return _request(args, "POST", "/api/v1/cases", body)


def cmd_list(args: argparse.Namespace) -> int:
    return _request(args, "GET", "/api/v1/cases" + (f"?status={args.status}" if args.status else ""))


def cmd_review(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _request(args, "GET", "/api/v1/review")
    if args.item is None:
        print("confirm/reject need --item", file=sys.stderr)
        return 2
    body = {"reason": args.reason} if args.reason else {}
    return _request(args, "POST", f"/api/v1/review/{args.item}/{args.action}", body)


def cmd_footage(args: argparse.Namespace) -> int:
    return _request(args, "GET", f"/api/v1/cases/{quote(args.number)}/footage")


def cmd_footage_cases(args: argparse.Namespace) -> int:
    return _request(args, "GET", f"/api/v1/footage/{quote(args.footage_id)}/cases")


def cmd_archive(args: argparse.Namespace) -> int:
    query = urlencode({k: v for k, v in (("from", args.since), ("to", args.until)) if v})
    return _request(args, "GET", f"/api/v1/officers/{quote(args.officer)}/archive" + (f"?{query}" if query else ""))


def cmd_link(args: argparse.Namespace) -> int:
    if args.action == "link":
        return _request(args, "POST", f"/api/v1/cases/{quote(args.number)}/links",
                        {"footage_id": args.footage_id, "reason": args.reason})
    return _request(args, "DELETE", f"/api/v1/cases/{quote(args.number)}/links/{quote(args.footage_id)}",
                    {"reason": args.reason})


def register(commands: Commands) -> None:
    cases = commands.add_parser("cases", help="local cases and the review queue", description=(
        "Local cases and the review queue, through the running daemon's API (a supervisor token from the "
        "config)."))
    sub = cases.add_subparsers(dest="cases_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create a case handled at the station",
                            description="Create a local case; matching runs over footage in its windows.")
    create.add_argument("--config", type=Path, required=True, help="path to edge.toml")
    create.add_argument("--number", help="case number (default: one is made up)")
    create.add_argument("--kind", default="incident", choices=["incident", "administrative", "criminal"],
                        help="case kind (default incident)")
    create.add_argument("--title", default="", help="short title")
    create.add_argument("--officer", action="append", default=[], help="involved officer number (repeat)")
    create.add_argument("--window", action="append", default=[],
                        help="time window START/END in ISO 8601 with a zone; END may be left out (repeat)")
    create.add_argument("--lat", type=float, help="location latitude")
    create.add_argument("--lon", type=float, help="location longitude")
    create.add_argument("--radius-m", type=float, default=200.0, help="location radius in metres (default 200)")
    create.set_defaults(func=cmd_create)
    listing = sub.add_parser("list", help="list cases", description="List cases, newest change first.")
    listing.add_argument("--config", type=Path, required=True, help="path to edge.toml")
    listing.add_argument("--status", choices=["open", "closed", "cancelled"], help="only this status")
    listing.set_defaults(func=cmd_list)
    review = sub.add_parser("review", help="the review queue", description=(
        "List the open review items, or confirm/reject one (a custody entry records who and why)."))
    review.add_argument("action", choices=["list", "confirm", "reject"], help="what to do")
    review.add_argument("--config", type=Path, required=True, help="path to edge.toml")
    review.add_argument("--item", type=int, help="review item id (confirm/reject)")
    review.add_argument("--reason", default="", help="why (kept in the custody log)")
    review.set_defaults(func=cmd_review)
    footage = sub.add_parser("footage", help="a case's footage with hashes and custody chain", description=(
        "The files linked to a case (any link state), with hashes, provenance and custody chain. The read is "
        "itself a custody entry."))
    footage.add_argument("number", help="case number")
    footage.add_argument("--config", type=Path, required=True, help="path to edge.toml")
    footage.set_defaults(func=cmd_footage)
    fcases = sub.add_parser("footage-cases", help="a footage file's cases", description=(
        "The cases a footage file is linked to, each with its history."))
    fcases.add_argument("footage_id", help="footage id (integer)")
    fcases.add_argument("--config", type=Path, required=True, help="path to edge.toml")
    fcases.set_defaults(func=cmd_footage_cases)
    archive = sub.add_parser("archive", help="one officer's archive over a period", description=(
        "Devices, shifts, footage, cases and warnings of one officer (default: the last 24 h)."))
    archive.add_argument("officer", help="officer number (6 digits)")
    archive.add_argument("--config", type=Path, required=True, help="path to edge.toml")
    archive.add_argument("--from", dest="since", help="start, ISO 8601 with a zone")
    archive.add_argument("--to", dest="until", help="end, ISO 8601 with a zone (default now)")
    archive.set_defaults(func=cmd_archive)
    for action, text in (("link", "link a footage file to a case by hand"), ("unlink", "unlink a file by hand")):
        cmd = sub.add_parser(action, help=text, description=f"{text.capitalize()}; a reason is required and "
                             "kept in the custody log.")
        cmd.add_argument("number", help="case number")
        cmd.add_argument("footage_id", help="footage id (integer)")
        cmd.add_argument("--reason", required=True, help="why (kept in the custody log)")
        cmd.add_argument("--config", type=Path, required=True, help="path to edge.toml")
        cmd.set_defaults(func=cmd_link, action=action)
