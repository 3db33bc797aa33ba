"""ID card reader driver against the simulator over a real pty, through every fault."""

import asyncio
import logging

import pytest
from kiosk.kiosk_pty import link, online

from devices.simulators.kiosk.cards import SAMPLE_CARDS
from devices.simulators.kiosk.idcard import IdCardReaderSim
from edge.kiosk.device import Completion, DeviceState, DeviceStatus, MediaState
from edge.kiosk.idcard.codec import Command
from edge.kiosk.idcard.driver import IdCardReader
from edge.kiosk.idcard.record import CardType


@pytest.mark.parametrize("key", sorted(SAMPLE_CARDS))
async def test_reads_every_sample_card(idcard: IdCardReader, idcard_sim: IdCardReaderSim, key: str) -> None:
    idcard_sim.insert(key)
    res = await idcard.read_card(wait=1).result()
    assert res.completion is Completion.SUCCESS, res.error
    assert res.value is not None
    assert res.value.record == SAMPLE_CARDS[key]
    assert len(res.value.photo) == 1024


async def test_sample_card_features(idcard: IdCardReader, idcard_sim: IdCardReaderSim) -> None:
    idcard_sim.insert("long_term")
    long_term = (await idcard.read_card(wait=1).result()).value
    idcard_sim.insert("hmt_permit")
    permit = (await idcard.read_card(wait=1).result()).value
    assert long_term is not None
    assert long_term.record.long_term
    assert permit is not None
    assert permit.record.card_type is CardType.HMT_PERMIT
    assert "㛃" in SAMPLE_CARDS["rare_name"].name


async def test_waits_for_card_with_events(idcard: IdCardReader, idcard_sim: IdCardReaderSim) -> None:
    op = idcard.read_card(wait=1.5)
    names: list[str] = []

    async def collect() -> None:
        async for ev in op.events():
            names.append(ev.name)

    collector = asyncio.create_task(collect())
    await asyncio.sleep(0.1)
    idcard_sim.insert("standard")
    res = await op.result()
    await collector
    assert res.completion is Completion.SUCCESS
    assert names[:1] == ["waiting_for_card"]
    assert "card_found" in names
    assert "reading" in names


async def test_no_card_times_out(idcard: IdCardReader) -> None:
    res = await idcard.read_card(wait=0.2).result()
    assert res.completion is Completion.TIMEOUT


async def test_cancel_while_waiting(idcard: IdCardReader) -> None:
    op = idcard.read_card(wait=5)
    await asyncio.sleep(0.05)
    assert op.cancel()
    res = await op.result()
    assert res.completion is Completion.CANCELED
    assert not op.cancel()  # exactly one completion


async def test_card_removed_mid_read(idcard: IdCardReader, idcard_sim: IdCardReaderSim) -> None:
    idcard_sim.insert("standard")
    idcard_sim.set_fault("remove_mid_read")
    res = await idcard.read_card(wait=0.3).result()
    assert res.completion is Completion.USER_ERROR
    assert "read failed" in res.error
    # Recovery: the citizen puts the card back.
    idcard_sim.insert("standard")
    assert (await idcard.read_card(wait=1).result()).ok


async def test_card_removed_mid_read_then_re_presented(idcard: IdCardReader, idcard_sim: IdCardReaderSim) -> None:
    idcard_sim.insert("standard")
    idcard_sim.set_fault("remove_mid_read")
    op = idcard.read_card(wait=1)
    await asyncio.sleep(0.15)
    idcard_sim.insert("standard")
    assert (await op.result()).ok


@pytest.mark.parametrize(("fault", "value"), [("checksum_errors", 2), ("split", True), ("garbage", 16)])
async def test_line_faults_are_recovered(
    idcard: IdCardReader, idcard_sim: IdCardReaderSim, fault: str, value: object
) -> None:
    idcard_sim.insert("rare_name")
    idcard_sim.set_fault(fault, value)
    res = await idcard.read_card(wait=1).result()
    assert res.completion is Completion.SUCCESS, res.error
    assert res.value is not None
    assert res.value.record.name == "赵㛃"


async def test_persistent_checksum_errors_give_invalid_data(idcard: IdCardReader, idcard_sim: IdCardReaderSim) -> None:
    idcard_sim.insert("standard")
    idcard_sim.set_fault("checksum_errors", 100)
    res = await idcard.read_card(wait=1).result()
    assert res.completion is Completion.INVALID_DATA
    idcard_sim.set_fault("checksum_errors", 0)
    assert (await idcard.read_card(wait=1).result()).ok


async def test_silence_goes_offline_and_back(idcard: IdCardReader, idcard_sim: IdCardReaderSim) -> None:
    idcard.retries = 0  # keep the test short: one timeout per command
    idcard_sim.set_fault("silent", True)
    await idcard.wait_status(lambda s: s.device is DeviceState.OFFLINE, 30)
    res = await idcard.read_card(wait=1).result()
    assert res.completion is Completion.TIMEOUT
    idcard_sim.set_fault("silent", False)
    await idcard.wait_status(online, 30)


async def test_unplug_and_replug(idcard: IdCardReader, idcard_sim: IdCardReaderSim) -> None:
    seen: list[DeviceStatus] = []
    idcard.subscribe(seen.append)
    idcard_sim.set_fault("unplug")
    await idcard.wait_status(lambda s: s.device is DeviceState.NO_DEVICE, 30)
    res = await idcard.read_card(wait=0.5).result()
    assert res.completion is Completion.DEVICE_NOT_READY
    idcard_sim.set_fault("replug")
    await idcard.wait_status(online, 30)
    idcard_sim.insert("standard")
    assert (await idcard.read_card(wait=1).result()).ok
    assert [s.device for s in seen][:1] == [DeviceState.NO_DEVICE]
    assert idcard.link.reconnects >= 1


async def test_sam_failure_is_hardware_error(idcard: IdCardReader, idcard_sim: IdCardReaderSim) -> None:
    idcard_sim.set_fault("sam_failure", True)
    await idcard.wait_status(lambda s: s.device is DeviceState.HARDWARE_ERROR, 30)
    idcard_sim.set_fault("sam_failure", False)
    await idcard.wait_status(online, 30)


async def test_card_presence_is_pushed(idcard: IdCardReader, idcard_sim: IdCardReaderSim) -> None:
    idcard_sim.insert("standard")
    await idcard.wait_status(lambda s: s.media is MediaState.CARD_PRESENT, 30)
    idcard_sim.remove()
    await idcard.wait_status(lambda s: s.media is MediaState.CARD_ABSENT, 30)


async def test_sam_id_and_reset(idcard: IdCardReader, idcard_sim: IdCardReaderSim) -> None:
    sam = await idcard.read_sam_id().result()
    assert sam.ok
    assert sam.value is not None
    assert len(sam.value) == 16
    assert (await idcard.reset_sam().result()).ok
    assert Command.RESET_SAM in idcard_sim.commands


async def test_trace_masks_personal_data(idcard_sim: IdCardReaderSim, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    idcard_sim.insert("standard")
    async with IdCardReader(link(idcard_sim.path, trace=True), timeout_scale=3.0) as drv:
        await drv.link.wait_connected(30)
        res = await drv.read_card(wait=1).result()
    assert res.ok
    text = caplog.text
    assert "aa aa aa 96 69 00 03 30 01 32" in text  # commands are traced
    assert "35020319900101123X" not in text
    assert "3502**********123X" in text
    assert "林晓梅".encode("utf-16-le").hex(" ") not in text
