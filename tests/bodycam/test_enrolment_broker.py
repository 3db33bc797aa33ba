"""Provisioning against the real broker: password file + ACL, per-device confinement, removal."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from support.bodycam import Station, online, telemetry
from support.tokens import auth

from edge.config import Role
from edge.store import enrolment

NOT_AUTHORIZED = 0x87


async def test_device_publishes_only_as_itself_and_strangers_are_refused(station: Station) -> None:
    secret = await station.enrol("cam-0001", "BW00001")
    await station.enrol("cam-0002", "BW00002")
    cam = station.cam("cam-0001", secret)
    assert cam.start().value == 0
    own = await asyncio.to_thread(cam.publish, "bwc/cam-0001/telemetry", telemetry("cam-0001", 1))
    assert own.value == 0
    other = await asyncio.to_thread(cam.publish, "bwc/cam-0002/telemetry", telemetry("cam-0002", 1))
    assert other.value == NOT_AUTHORIZED, "a camera must not speak for another"
    station_topic = await asyncio.to_thread(cam.publish, f"edge/{station.config.station.id}/alerts", b"{}")
    assert station_topic.value == NOT_AUTHORIZED
    stranger = station.cam("cam-0003", "guessed-password")
    assert (await asyncio.to_thread(stranger.start)).is_failure, "unenrolled client refused at CONNECT"
    anonymous = station.cam(None, None)
    assert (await asyncio.to_thread(anonymous.start)).is_failure
    wrong = station.cam("cam-0002", secret)
    assert (await asyncio.to_thread(wrong.start)).is_failure, "another device's secret does not open cam-0002"
    bodycam = station.daemon.bodycam
    assert bodycam is not None
    await station.wait_for(lambda: bodycam.registry.devices["cam-0001"].telemetry)
    assert bodycam.registry.devices["cam-0002"].telemetry is None


async def test_removed_device_is_refused_after_reload(station: Station) -> None:
    secret = await station.enrol("cam-0001", "BW00001")
    assert (await asyncio.to_thread(station.cam("cam-0001", secret).start)).value == 0
    assert await station.enrolment.remove_device("cam-0001", actor="technician:test")
    await asyncio.sleep(0.15)
    again = station.cam("cam-0001", secret)
    assert (await asyncio.to_thread(again.start)).is_failure
    accounts = await station.daemon.store.read(enrolment.broker_accounts)
    assert accounts == {}


async def test_enrolment_over_the_api(station: Station) -> None:
    async with aiohttp.ClientSession() as http:
        tech, sup = auth(Role.TECHNICIAN), auth(Role.SUPERVISOR)
        async with http.post(f"{station.http}/api/v1/devices", headers=sup,
                             json={"device_id": "cam-0009", "serial": "BW00009"}) as r:
            assert r.status == 403
        async with http.post(f"{station.http}/api/v1/devices", headers=tech,
                             json={"device_id": "cam-0009", "serial": "bad serial"}) as r:
            assert r.status == 422 and r.content_type == "application/problem+json"
        async with http.post(f"{station.http}/api/v1/devices", headers=tech,
                             json={"device_id": "cam-0009", "serial": "BW00009", "model": "DSJ"}) as r:
            assert r.status == 201
            secret = (await r.json())["secret"]
        async with http.post(f"{station.http}/api/v1/officers", headers=tech, json={
                "officer_no": "123456", "name": "王伟", "unit_no": "440304510000", "unit_name": "巡逻一中队"}) as r:
            assert r.status == 201
        shift = {"officer_no": "123456", "starts_at": "2000-01-01T00:00:00Z", "ends_at": "2100-01-01T00:00:00Z"}
        async with http.post(f"{station.http}/api/v1/devices/cam-0009/assignments", headers=tech, json=shift) as r:
            assert r.status == 201
        async with http.post(f"{station.http}/api/v1/devices/cam-0009/assignments", headers=tech, json=shift) as r:
            assert r.status == 422, "overlapping shifts are refused"
        await asyncio.sleep(0.15)
        cam = station.cam("cam-0009", secret)
        assert (await asyncio.to_thread(cam.start)).value == 0
        await asyncio.to_thread(cam.publish, "bwc/cam-0009/status", online("cam-0009", 1, serial="BW00009"),
                                retain=True)
        async with http.get(f"{station.http}/api/v1/devices", headers=sup) as r:
            listed = await r.json()
        assert [d["device_id"] for d in listed["items"]] == ["cam-0009"]
        assert listed["items"][0]["officer_no"] == "123456"
        async with http.get(f"{station.http}/api/v1/devices", headers=auth(Role.OFFICER)) as r:
            assert r.status == 403
        async with http.delete(f"{station.http}/api/v1/devices/cam-0009", headers=tech) as r:
            assert r.status == 204
        async with http.delete(f"{station.http}/api/v1/devices/cam-0009", headers=tech) as r:
            assert r.status == 404


@pytest.mark.parametrize("device_id", ["station-edge"])
async def test_daemon_account_cannot_be_enrolled(station: Station, device_id: str) -> None:
    from edge.bodycam.enrolment import EnrolmentError

    with pytest.raises(EnrolmentError):
        await station.enrolment.add_device(device_id, "BW00001", "m", actor="technician:test")
