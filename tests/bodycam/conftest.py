"""A station on an authenticating broker: password file + ACL written by provisioning, anonymous refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from support.bodycam import DAEMON_PASSWORD, DAEMON_USER, Station

from edge.bodycam.enrolment import Enrolment
from edge.broker import Broker, BrokerConfig, free_port
from edge.config import Config
from edge.daemon import Daemon
from edge.store import Store


def station_config(make_config: Callable[..., Config], tmp: Path, port: int,
                   footage: dict[str, Any] | None = None, **bodycam: Any) -> Config:
    return make_config(
        None,
        footage=footage or {},
        mqtt={"url": f"mqtt://127.0.0.1:{port}", "username": DAEMON_USER, "password": DAEMON_PASSWORD},
        services={"mqtt": True},
        # The private broker runs as our user: provisioning SIGHUPs the pid it writes (BrokerConfig.pid_file).
        bodycam={"broker_dir": str(tmp / "broker"), "broker_reload": "signal",
                 "broker_pid_file": str(tmp / "broker" / "mosquitto.pid"), **bodycam},
    )


@pytest.fixture
async def station(tmp_path: Path, make_config: Callable[..., Config], request: pytest.FixtureRequest
                  ) -> AsyncIterator[Station]:
    """Provision the daemon's own account, start an authenticating broker, then the daemon. An indirect
    parameter overrides ``bodycam`` keys, and ``footage`` keys under "footage"."""
    overrides: dict[str, Any] = dict(getattr(request, "param", {}))
    port = free_port()
    first = station_config(make_config, tmp_path, port)
    store = Store(first.database_path)
    await store.open()
    await Enrolment(first, store).provision()
    await store.close()
    broker = Broker(BrokerConfig(tmp_path / "broker", port, allow_anonymous=False,
                                 password_file=first.bodycam.broker_password_file,
                                 acl_file=first.bodycam.broker_acl_file))
    await broker.start()
    assert broker.pid is not None
    config = station_config(make_config, tmp_path, port, **overrides)
    daemon = Daemon(config)
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop))
    station = Station(daemon, broker, config, Enrolment(config, daemon.store))
    try:
        await asyncio.wait_for(daemon.ready.wait(), 60)
        assert daemon.link is not None
        await daemon.link.wait_connected(30)
        yield station
    finally:
        for cam in station.cams:
            cam.client.loop_stop()
            cam.client.disconnect()
        stop.set()
        assert await asyncio.wait_for(run, 15) == 0
        await broker.stop()


