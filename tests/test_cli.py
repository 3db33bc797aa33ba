from __future__ import annotations

import subprocess
import sys

import pytest

from edge import __version__
from edge.cli import build_parser, main

COMMANDS = [[], ["run"], ["check-config"], ["demo"], ["version"], ["status"], ["audit"], ["audit", "verify"],
            ["audit", "pubkey"], ["audit", "export"],
            ["token"], ["token", "new"], ["sim"],
            ["cases"], ["cases", "create"], ["cases", "list"], ["cases", "review"], ["sim", "central"],
            ["devices"], ["devices", "add"], ["devices", "list"], ["devices", "assign"], ["devices", "remove"],
            ["devices", "provision"],
            ["officers"], ["officers", "add"], ["officers", "list"], ["sim", "bodycams"], ["sim", "uploads"],
            ["sim", "dock"], ["sim", "kiosk"], ["db"], ["db", "tables"], ["db", "query"], ["db", "prune"]]


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: " ".join(w) or "top")
def test_every_command_explains_itself(words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*words, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: station-edge")
    assert len(out.splitlines()) >= 3


def test_every_registered_command_is_covered() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert set(subparsers.choices) <= {w[0] for w in COMMANDS if w}  # type: ignore[union-attr]


def test_version_and_console_script() -> None:
    result = subprocess.run([sys.executable, "-m", "edge.cli", "version"], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == f"station-edge {__version__}"


def test_token_new_prints_a_table_with_only_the_hash(capsys: pytest.CaptureFixture[str]) -> None:
    import hashlib
    import tomllib

    assert main(["token", "new", "--name", "desk-1", "--role", "kiosk"]) == 0
    captured = capsys.readouterr()
    token = captured.err.rsplit(" ", 1)[1].strip()
    table = tomllib.loads(captured.out)["api"]["tokens"][0]
    assert table == {"name": "desk-1", "role": "kiosk", "token_sha256": hashlib.sha256(token.encode()).hexdigest()}
    assert token not in captured.out


def test_unknown_command_fails_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
