"""``station-edge audit``: verify the custody log (database or bundle), print the station's public key,
export a bundle. Registered from edge/cli.py."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from edge.custody import keys
from edge.custody.chain import Verification

if TYPE_CHECKING:
    from edge.config import Config

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="custody log tools", description=(
        "Custody log tools: verify the chain and its signed checkpoints, print the station's public key, "
        "export a bundle that verifies offline. See docs/custody.md."))
    actions = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)

    verify = actions.add_parser("verify", help="verify the custody log's chain and checkpoints", description=(
        "Walk the custody log's hash chain through every signed checkpoint and check the append-only guard "
        "triggers; exit 0 if intact, 1 naming the first entry that fails. Works on a running or a stopped "
        "daemon's database (read-only), or offline on an exported bundle (no database, no config)."))
    source = verify.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="path to edge.toml (its database; checkpoints pinned to its key)")
    source.add_argument("--db", type=Path, help="path to a station.db file")
    source.add_argument("--bundle", type=Path, help="path to a bundle made by 'audit export'")
    verify.add_argument("--pubkey", type=Path, help=(
        "file with the station's public key as 'audit pubkey' prints it (PEM or base64): checkpoints must be "
        "signed by it. Without it, --db and --bundle use the key the checkpoints name"))
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    verify.set_defaults(func=cmd_verify)

    pubkey = actions.add_parser("pubkey", help="print the station's checkpoint public key", description=(
        "Print the public half of the station's Ed25519 checkpoint key: PEM (SubjectPublicKeyInfo) by default, "
        "or with --raw base64 of the 32 raw bytes. Register it with the central platform; pin it with "
        "'audit verify --pubkey'."))
    pubkey.add_argument("--config", type=Path, required=True, help="path to edge.toml")
    pubkey.add_argument("--raw", action="store_true", help="print base64 of the raw 32-byte key instead of PEM")
    pubkey.set_defaults(func=cmd_pubkey)

    export = actions.add_parser("export", help="write a custody bundle that verifies offline", description=(
        "Write every custody entry, every signed checkpoint and the public key to one gzip'd JSON-lines file "
        "(format: docs/custody.md). Progress goes to stderr for big logs."))
    export_source = export.add_mutually_exclusive_group(required=True)
    export_source.add_argument("--config", type=Path, help="path to edge.toml")
    export_source.add_argument("--db", type=Path, help="path to a station.db file")
    export.add_argument("--out", type=Path, required=True, help="bundle file to write (e.g. custody.jsonl.gz)")
    export.set_defaults(func=cmd_export)


def _config(path: Path) -> Config | None:
    from edge.config import ConfigError, load

    try:
        return load(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


def _station_public_key(config: Config) -> str | None:
    path = config.custody.key_path(config.station.data_dir)
    try:
        return keys.public_b64(keys.read_key(path))
    except keys.StationKeyError as exc:
        print(f"note: {exc}; checkpoints are checked against the key they name", file=sys.stderr)
        return None


def _pinned_key(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise keys.StationKeyError(f"cannot read public key file {path}: {exc.strerror or exc}") from None
    return keys.parse_public_key(text)


class _Progress:
    """Progress on stderr for big logs (100,000 entries or more), about every tenth of the way."""

    BIG = 100_000

    def __init__(self, verb: str) -> None:
        self._verb = verb
        self._started = time.monotonic()
        self._shown = 0

    def __call__(self, done: int, total: int | None = None) -> None:
        if total is None or total < self.BIG or done * 10 // total <= self._shown:
            return
        self._shown = done * 10 // total
        rate = done / max(1e-6, time.monotonic() - self._started)
        print(f"audit {self._verb}: {done}/{total} entries ({100 * done // total} %), {rate:,.0f}/s", file=sys.stderr)


def _report(result: Verification, as_json: bool, extra: dict[str, object] | None = None) -> int:
    if as_json:
        print(json.dumps({**result.as_json(), **(extra or {})}))
    else:
        print(result.describe(), file=sys.stdout if result.ok else sys.stderr)
    return EXIT_OK if result.ok else EXIT_FAILURE


def _db_path(args: argparse.Namespace) -> tuple[Path | None, Config | None, int]:
    if args.db is not None:
        return args.db, None, EXIT_OK
    config = _config(args.config)
    if config is None:
        return None, None, EXIT_CONFIG
    return config.database_path, config, EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    try:
        pinned = _pinned_key(args.pubkey) if args.pubkey is not None else None
    except keys.StationKeyError as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAILURE
    if args.bundle is not None:
        return _verify_bundle(args.bundle, pinned, args.json)
    db_path, config, code = _db_path(args)
    if db_path is None:
        return code
    if pinned is None and config is not None:
        pinned = _station_public_key(config)
    if not db_path.exists():
        print(f"no database at {db_path}", file=sys.stderr)
        return EXIT_FAILURE
    from edge.store.custody_io import verify_file

    return _report(verify_file(db_path, public_key=pinned, progress=_Progress("verify")), args.json)


def _verify_bundle(path: Path, pinned: str | None, as_json: bool) -> int:
    from edge.custody import bundle

    try:
        header, result = bundle.verify(path, trusted_key=pinned, progress=_Progress("verify"))
    except bundle.BundleError as exc:
        print(f"bundle {path} is not valid: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if not as_json and result.ok:
        print(f"bundle of station {header.station}, exported {header.exported_at}")
    return _report(result, as_json, {"station": header.station, "exported_at": header.exported_at})


def cmd_pubkey(args: argparse.Namespace) -> int:
    config = _config(args.config)
    if config is None:
        return EXIT_CONFIG
    path = config.custody.key_path(config.station.data_dir)
    try:
        key = keys.read_key(path)
    except keys.StationKeyError as exc:
        hint = " (the daemon creates it at first start)" if config.custody.key_file is None else ""
        print(f"{exc}{hint}", file=sys.stderr)
        return EXIT_FAILURE
    print(keys.public_b64(key) if args.raw else keys.public_pem(key).rstrip("\n"))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    db_path, config, code = _db_path(args)
    if db_path is None:
        return code
    if not db_path.exists():
        print(f"no database at {db_path}", file=sys.stderr)
        return EXIT_FAILURE
    from edge.store.custody_io import export_file

    public_key = _station_public_key(config) if config is not None else None
    station = config.station.id if config is not None else None
    from edge.custody.bundle import BundleError

    try:
        summary = export_file(db_path, args.out, station=station, public_key=public_key,
                              progress=_Progress("export"))
    except BundleError as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:
        print(f"cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"wrote {args.out}: {summary.entries} entries, {summary.checkpoints} checkpoint(s), "
          f"{summary.size:,} bytes; verify it with: station-edge audit verify --bundle {args.out}")
    return EXIT_OK
