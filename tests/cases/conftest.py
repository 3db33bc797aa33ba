"""Fixtures for the case domain: a real store in a temp dir, a CaseDomain on it with a settable clock."""

from __future__ import annotations

import pytest
from support.cases import Clock

from edge.cases.config import CasesConfig
from edge.cases.domain import CaseDomain
from edge.store import Store


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def domain(store: Store, clock: Clock) -> CaseDomain:
    d = CaseDomain(store, CasesConfig(), "ST-1", clock=clock)
    await d.load()
    return d
