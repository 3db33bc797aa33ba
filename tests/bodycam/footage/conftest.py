"""Fixtures for footage tests (helpers live in support/footage.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from support.footage import Station, run_station

from edge.config import Config


@pytest.fixture
def footage_config(make_config: Callable[..., Config], tmp_path: Path) -> Callable[..., Config]:
    def build(**footage: Any) -> Config:
        values = {"probe_pool": "thread", "probe_workers": 2, "hard_floor_mb": 0, "disk_check_interval_s": 0.2,
                  "dir": str(tmp_path / "footage")}
        values.update(footage)
        return make_config(footage=values)

    return build


@pytest.fixture
async def station(footage_config: Callable[..., Config], tmp_path: Path) -> AsyncIterator[Station]:
    async with run_station(footage_config()) as s:
        yield s


