"""The ``station-edge`` command line."""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from edge import __version__, logs
from edge.config import Config, ConfigError, Role, load

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2


def add_logging_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-format", choices=["json", "text"], default=None,
                        help="log line format (default: the config's, else json; text is for people)")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default=None,
                        help="minimum level logged (default: the config's, else info)")


def _load_or_report(path: Path) -> Config | None:
    try:
        return load(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


def cmd_run(args: argparse.Namespace) -> int:
    config = _load_or_report(args.config)
    if config is None:
        return EXIT_CONFIG
    logs.configure(args.log_format or config.logging.format, args.log_level or config.logging.level)
    from edge.daemon import Daemon

    return asyncio.run(Daemon(config).run())


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load_or_report(args.path)
    if config is None:
        return EXIT_CONFIG
    enabled = [name for name, on in config.services.model_dump().items() if on]
    roles = sorted({t.role.value for t in config.api.tokens})
    print(f"{args.path}: OK — station {config.station.id}, data in {config.station.data_dir}, "
          f"broker {config.mqtt.url}, HTTP {config.http.host}:{config.http.port}, "
          f"services: {', '.join(enabled) or 'none'}, API roles: {', '.join(roles) or 'none'}")
    return EXIT_OK


def cmd_version(args: argparse.Namespace) -> int:
    print(f"station-edge {__version__}")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    config = _load_or_report(args.config)
    if config is None:
        return EXIT_CONFIG
    from edge.status_client import fetch_status

    token = next((t.token for t in config.api.tokens if t.role in (Role.TECHNICIAN, Role.SUPERVISOR)), "")
    code, text = asyncio.run(fetch_status(config.http.host, config.http.port, token))
    print(text, file=sys.stdout if code == EXIT_OK else sys.stderr)
    return code


def cmd_token_new(args: argparse.Namespace) -> int:
    import hashlib
    import secrets

    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    print(f"token (give it to {args.name}; it is not stored anywhere): {token}", file=sys.stderr)
    print(f'[[api.tokens]]\nname = "{args.name}"\nrole = "{args.role}"\ntoken_sha256 = "{digest}"')
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="station-edge",
        description="Police-station edge gateway: body cameras, footage custody, kiosks, uplink.",
        epilog="Run 'station-edge COMMAND --help' for a command's options. Docs: docs/ in the source tree.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser("run", help="run the daemon", description=(
        "Run the station daemon in the foreground (systemd runs this). Stops cleanly on SIGTERM/SIGINT."))
    run.add_argument("--config", type=Path, required=True, help="path to edge.toml")
    add_logging_options(run)
    run.set_defaults(func=cmd_run)

    check = commands.add_parser("check-config", help="validate a config file", description=(
        "Validate a config file without starting anything. Exit 0 if valid; otherwise exit 2 and list "
        "every error with its key path."))
    check.add_argument("path", type=Path, help="path to edge.toml")
    check.set_defaults(func=cmd_check_config)

    version = commands.add_parser("version", help="print the version", description="Print the version.")
    version.set_defaults(func=cmd_version)

    status = commands.add_parser("status", help="ask a running daemon for its status", description=(
        "Query the running daemon's /readyz and /api/v1/status using a technician or supervisor token "
        "from the config."))
    status.add_argument("--config", type=Path, required=True, help="path to edge.toml")
    status.set_defaults(func=cmd_status)

    token = commands.add_parser("token", help="API token tools", description="API token tools.")
    token_commands = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    new = token_commands.add_parser("new", help="mint an API token", description=(
        "Mint a random API token. The token goes to stderr (hand it to its holder); the [[api.tokens]] "
        "table with only its SHA-256 goes to stdout, to paste into edge.toml."))
    new.add_argument("--name", required=True, help="who holds the token (appears in the custody log)")
    new.add_argument("--role", required=True, choices=[r.value for r in Role], help="the token's role")
    new.set_defaults(func=cmd_token_new)

    for register in (*_plugin_commands(), *_installed_commands()):
        register(commands)
    return parser


Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _plugin_commands() -> list[Registrar]:
    """Domain command groups (devices, cases, ...) register themselves here."""
    from edge.bodycam import cli as bodycam_cli
    from edge.cases import cli as cases_cli
    from edge.custody import cli as custody_cli
    from edge.housekeeping import cli as housekeeping_cli
    from edge.store import cli as store_cli

    # One `db` group: the store's read-only inspection, plus housekeeping's `prune` (which writes).
    db = functools.partial(store_cli.register, more_actions=(housekeeping_cli.add_prune,))
    return [cases_cli.register, bodycam_cli.register, custody_cli.register, db]


COMMAND_ENTRY_POINTS = "station_edge.commands"


def _installed_commands() -> list[Registrar]:
    """Command groups other installed packages add (``demo`` and ``sim`` from devices/), found through the
    ``station_edge.commands`` entry-point group so that edge never imports them."""
    from importlib.metadata import entry_points

    registrars: list[Registrar] = []
    for entry in sorted(entry_points(group=COMMAND_ENTRY_POINTS), key=lambda e: e.name):
        try:
            registrars.append(entry.load())
        except (ImportError, AttributeError) as exc:
            # A broken add-on must not take `station-edge run` down with it: its commands are just missing.
            print(f"station-edge: skipping commands from {entry.value!r}: {exc}", file=sys.stderr)
    return registrars


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
