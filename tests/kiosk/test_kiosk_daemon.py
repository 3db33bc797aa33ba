"""The kiosk domain inside the real daemon: simulators on real ptys, status in the API, metrics, alerts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.tokens import auth

from devices.simulators.kiosk.bundle import SimulatedKiosk
from edge.config import Config, Role, ServicesConfig
from edge.daemon import Daemon
from edge.kiosk.device import DeviceState, DeviceStatus, MediaState
from edge.kiosk.wiring import SETTLE_S, DaemonKioskService
from edge.store import Store
from edge.store import alerts as alert_rows

KIOSK = "K01"
# Short polls and timeouts so each change shows within a second (production defaults are seconds).
FAST = {
    "idcard": {"poll_interval": 0.2, "find_interval": 0.05, "timeout_scale": 3.0},
    "printer": {"poll_interval": 0.2, "status_timeout": 0.3},
    "scanner": {},
    "payment": {"poll_interval": 0.2, "ack_timeout": 0.2, "query_timeout": 0.3},
}


def kiosk_section(sim: SimulatedKiosk) -> dict[str, Any]:
    peripherals = [
        {"kind": kind, "port": str(dev.path), "baud": 9600 if kind == "scanner" else 115200, "options": FAST[kind]}
        for kind, dev in sim.devices.items()
    ]
    return {"kiosks": [{"id": KIOSK, "peripherals": peripherals}]}


def only_kiosk_services() -> dict[str, bool]:
    # Other domains have their own tests; keep this daemon to the kiosk (and HTTP) so it starts fast.
    return {name: name in ("http", "kiosk") for name in ServicesConfig.model_fields}


class Station:
    def __init__(self, daemon: Daemon, base: str, sim: SimulatedKiosk | None = None) -> None:
        self.daemon, self.base, self.sim = daemon, base, sim

    @property
    def simulator(self) -> SimulatedKiosk:
        assert self.sim is not None
        return self.sim

    async def get(self, path: str, role: Role = Role.TECHNICIAN) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as session, session.get(self.base + path, headers=auth(role)) as r:
            return r.status, await r.json(content_type=None)

    async def devices(self) -> dict[str, Any]:
        status, body = await self.get(f"/api/v1/kiosks/{KIOSK}/devices")
        assert status == 200, body
        return dict(body["devices"])

    async def wait_device(self, kind: str, predicate: Callable[[dict[str, Any]], bool], within: float = 30) -> None:
        async with asyncio.timeout(within):
            while not predicate((await self.devices())[kind]):
                await asyncio.sleep(0.05)

    async def alert(self, kind: str) -> dict[str, Any] | None:
        status, body = await self.get("/api/v1/alerts?state=active&kind=kiosk.device_degraded", Role.SUPERVISOR)
        assert status == 200
        found = [a for a in body["items"] if a["key"] == f"kiosk:{KIOSK}/{kind}"]
        return found[0] if found else None

    async def wait_alert(self, kind: str, active: bool, within: float = 30) -> dict[str, Any] | None:
        async with asyncio.timeout(within):
            while ((found := await self.alert(kind)) is not None) != active:
                await asyncio.sleep(0.05)
        return found


@pytest.fixture
async def station(tmp_path: Path, make_config: Callable[..., Config]) -> AsyncIterator[Station]:
    (tmp_path / "sim").mkdir()
    sim = SimulatedKiosk(tmp_path / "sim")
    await sim.start()
    config = make_config(None, services=only_kiosk_services(), kiosk=kiosk_section(sim))
    daemon = Daemon(config)
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop))
    try:
        await asyncio.wait_for(daemon.ready.wait(), 60)
        assert daemon.http is not None and isinstance(daemon.kiosk, DaemonKioskService)
        st = Station(daemon, f"http://127.0.0.1:{daemon.http.bound_port}", sim)
        await st.wait_device("printer", lambda d: d["device"] == "online")
        await st.wait_device("idcard", lambda d: d["device"] == "online")
        await st.wait_device("payment", lambda d: d["device"] == "online")
        yield st
    finally:
        stop.set()
        assert await asyncio.wait_for(run, 60) == 0
        await sim.stop()


async def test_kiosk_list_summarises_each_kiosk(station: Station) -> None:
    status, body = await station.get("/api/v1/kiosks", Role.KIOSK)
    assert status == 200
    [kiosk] = body["items"]
    assert kiosk["id"] == KIOSK and kiosk["problems"] == []
    assert set(kiosk["devices"]) == {"idcard", "printer", "scanner", "payment"}
    # The scanner's state comes from its link alone (it has nothing to poll), so only "ok" or "degraded".
    assert kiosk["status"] == "ok", kiosk


async def test_printer_paper_out_raises_warning_and_recovery_clears_it(station: Station) -> None:
    station.simulator.set_fault("printer", "paper", "low")
    await station.wait_device("printer", lambda d: d["media"] == "paper_low")
    low = await station.wait_alert("printer", active=True)
    assert low is not None and low["severity"] == "info"

    station.simulator.set_fault("printer", "paper", "out")
    await station.wait_device("printer", lambda d: d["media"] == "paper_out")
    devices = await station.devices()
    assert devices["printer"]["problem"]["severity"] == "warning"
    async with asyncio.timeout(30):
        while (alert := await station.alert("printer")) is None or alert["severity"] != "warning":
            await asyncio.sleep(0.05)
    assert alert["kind"] == "kiosk.device_degraded" and alert["subject"] == f"kiosk:{KIOSK}"
    assert alert["details"]["media"] == "paper_out" and "out of paper" in alert["message"]
    _, listing = await station.get("/api/v1/kiosks")
    assert listing["items"][0]["status"] == "degraded"

    station.simulator.set_fault("printer", "paper", "full")
    await station.wait_device("printer", lambda d: d["device"] == "online" and d["media"] == "paper_full")
    assert await station.wait_alert("printer", active=False) is None
    _, history = await station.get("/api/v1/alerts?state=all&kind=kiosk.device_degraded", Role.SUPERVISOR)
    [printer_alert] = [a for a in history["items"] if a["key"] == f"kiosk:{KIOSK}/printer"]
    assert [h["change"] for h in printer_alert["history"]] == ["raised", "changed", "cleared"]
    assert [h["severity"] for h in printer_alert["history"]][:2] == ["info", "warning"]


async def test_card_reader_unplug_and_replug(station: Station) -> None:
    station.simulator.set_fault("idcard", "unplug", True)
    await station.wait_device("idcard", lambda d: d["device"] == "no_device")
    alert = await station.wait_alert("idcard", active=True)
    assert alert is not None and alert["severity"] == "critical"
    station.simulator.set_fault("idcard", "replug", True)
    await station.wait_device("idcard", lambda d: d["device"] == "online")
    await station.wait_alert("idcard", active=False)


async def test_payment_terminal_offline_and_back(station: Station) -> None:
    station.simulator.set_fault("payment", "silent", True)
    await station.wait_device("payment", lambda d: d["device"] == "offline")
    alert = await station.wait_alert("payment", active=True)
    assert alert is not None and alert["severity"] == "warning"
    station.simulator.set_fault("payment", "silent", False)
    await station.wait_device("payment", lambda d: d["device"] == "online")
    await station.wait_alert("payment", active=False)


async def test_metrics_show_states_and_completions(station: Station) -> None:
    kiosk = station.daemon.kiosk
    assert kiosk is not None and kiosk.kiosks[KIOSK].printer is not None
    result = await kiosk.kiosks[KIOSK].printer.status_check().result()
    assert result.ok
    async with aiohttp.ClientSession() as session, session.get(f"{station.base}/metrics") as r:
        text = await r.text()
    labels = f'kiosk="{KIOSK}",peripheral="printer"'
    assert f'station_edge_kiosk_device_state{{{labels},state="online"}} 1.0' in text
    assert f'station_edge_kiosk_device_state{{{labels},state="offline"}} 0.0' in text
    assert f'station_edge_kiosk_media_state{{{labels},state="paper_full"}} 1.0' in text
    assert (
        f'station_edge_kiosk_operations_total{{completion="success",kiosk="{KIOSK}",operation="status",'
        'peripheral="printer"} 1.0'
    ) in text


async def test_unknown_kiosk_is_404_and_wrong_role_is_403(station: Station) -> None:
    status, body = await station.get("/api/v1/kiosks/NOPE/devices")
    assert status == 404 and body["type"].endswith("unknown-kiosk") and "NOPE" in body["detail"]
    status, body = await station.get(f"/api/v1/kiosks/{KIOSK}/devices", Role.OFFICER)
    assert status == 403 and body["type"].endswith("forbidden")
    status, _ = await station.get("/api/v1/kiosks", Role.OFFICER)
    assert status == 403
    for role in (Role.TECHNICIAN, Role.SUPERVISOR, Role.KIOSK):
        status, _ = await station.get(f"/api/v1/kiosks/{KIOSK}/devices", role)
        assert status == 200


def _printer(device: DeviceState, media: MediaState) -> DeviceStatus:
    return DeviceStatus("printer", device, media)


async def test_absent_device_alerts_after_start_and_alerts_keep_order_through_shutdown(
    tmp_path: Path, make_config: Callable[..., Config]
) -> None:
    # A port that never opens: the driver stays "no_device" and pushes nothing, so every change after the
    # start-up alert is ours.
    kiosk = {"kiosks": [{"id": KIOSK, "peripherals": [{"kind": "printer", "port": str(tmp_path / "absent")}]}]}
    config = make_config(None, services=only_kiosk_services(), kiosk=kiosk)
    daemon = Daemon(config)
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop))
    await asyncio.wait_for(daemon.ready.wait(), 60)
    assert isinstance(daemon.kiosk, DaemonKioskService) and daemon.http is not None
    station = Station(daemon, f"http://127.0.0.1:{daemon.http.bound_port}")
    absent = await station.wait_alert("printer", active=True, within=SETTLE_S + 30)  # a ceiling past the settle time
    assert absent is not None and absent["severity"] == "critical" and "not connected" in absent["message"]

    health = daemon.kiosk.health
    for _ in range(5):
        health.on_status(KIOSK, "printer", _printer(DeviceState.OFFLINE, MediaState.PAPER_OUT))
        health.on_status(KIOSK, "printer", _printer(DeviceState.ONLINE, MediaState.PAPER_FULL))
    health.on_status(KIOSK, "printer", _printer(DeviceState.ONLINE, MediaState.PAPER_LOW))
    stop.set()  # at once: the queued alerts must still reach the store
    assert await asyncio.wait_for(run, 60) == 0

    store = Store(config.database_path)
    await store.open()
    try:
        rows = await store.read(lambda q: alert_rows.listing(q, active_only=False, kind=None, subject=None, limit=100))
    finally:
        await store.close()
    changes = [(h["change"], h["severity"]) for row in reversed(rows) for h in row["history"]]
    assert changes == [
        ("raised", "critical"),
        ("changed", "warning"),
        ("cleared", "warning"),
        *[("raised", "warning"), ("cleared", "warning")] * 4,
        ("raised", "info"),
    ]
    assert rows[0]["cleared_at"] is None, "the last state (paper low) stays active"
