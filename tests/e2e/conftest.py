"""Fixtures for whole-station tests: a small real tmpfs, daemon processes killed at teardown."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.tmpfs import mounted_tmpfs


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "db-disk", "24m") as mount:
        yield mount


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Daemon processes a test started; any still running at the end is killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
