"""Scanner driver against the QR scanner simulator over a real pty (9600 baud)."""

import asyncio
from collections.abc import Callable

import pytest
from kiosk.kiosk_pty import online

from devices.simulators.kiosk.scanner import QrScannerSim
from edge.kiosk.device import Completion, DeviceState
from edge.kiosk.scanner.codec import TRIGGER_OFF, TRIGGER_ON, ScannedCode
from edge.kiosk.scanner.driver import Scanner

WALLET = "281234567890123456"  # looks like a payment code: must never reach a log


async def _eventually(check: Callable[[], bool], within: float = 30) -> None:
    async with asyncio.timeout(within):  # a ceiling on a condition, not a timing claim
        while not check():
            await asyncio.sleep(0.01)


async def _scan_after(scanner: Scanner, sim: QrScannerSim, code: str, delay: float = 0.05,
                      timeout: float = 60) -> object:
    op = scanner.scan(timeout=timeout)  # the scan ends when the code arrives; the timeout is only a ceiling
    await asyncio.sleep(delay)
    sim.present(code)
    return await op.result()


async def test_scan_triggers_and_stops(
    scanner: Scanner, scanner_sim: QrScannerSim, caplog: pytest.LogCaptureFixture
) -> None:
    res = await _scan_after(scanner, scanner_sim, WALLET)
    assert res.ok  # type: ignore[attr-defined]
    assert res.value.text == WALLET  # type: ignore[attr-defined]
    await _eventually(lambda: len(scanner_sim.trigger_commands) >= 2)
    assert scanner_sim.trigger_commands == [TRIGGER_ON, TRIGGER_OFF]
    assert WALLET not in caplog.text
    assert WALLET not in repr(res)


@pytest.mark.parametrize("fault", ["no_suffix", "split"])
async def test_gap_flush_and_split_frames(scanner: Scanner, scanner_sim: QrScannerSim, fault: str) -> None:
    scanner_sim.set_fault(fault, True)
    res = await _scan_after(scanner, scanner_sim, "https://gov.example/q/ABCDEF0123456789")
    assert res.ok  # type: ignore[attr-defined]
    assert res.value.text == "https://gov.example/q/ABCDEF0123456789"  # type: ignore[attr-defined]


async def test_timeout_stops_trigger(scanner: Scanner, scanner_sim: QrScannerSim) -> None:
    res = await scanner.scan(timeout=0.2).result()
    assert res.completion is Completion.TIMEOUT
    await _eventually(lambda: scanner_sim.trigger_commands[-1:] == [TRIGGER_OFF])
    assert not scanner_sim.triggered


async def test_silent_scanner_times_out(scanner: Scanner, scanner_sim: QrScannerSim) -> None:
    scanner_sim.set_fault("silent", True)
    res = await _scan_after(scanner, scanner_sim, "X1", timeout=1)
    assert res.completion is Completion.TIMEOUT  # type: ignore[attr-defined]


async def test_cancel_scan(scanner: Scanner, scanner_sim: QrScannerSim) -> None:
    op = scanner.scan(timeout=60)  # cancelled long before: a ceiling, so a slow machine sees CANCELED
    await asyncio.sleep(0.05)
    assert op.cancel()
    assert (await op.result()).completion is Completion.CANCELED
    await _eventually(lambda: scanner_sim.trigger_commands[-1:] == [TRIGGER_OFF])


async def test_presentation_mode_pushes_codes(scanner: Scanner, scanner_sim: QrScannerSim) -> None:
    got: list[ScannedCode] = []
    scanner.on_code(got.append)
    scanner_sim.set_fault("presentation", True)
    scanner_sim.present("A1")
    scanner_sim.present("B2")
    await _eventually(lambda: len(got) >= 2)
    assert [c.text for c in got] == ["A1", "B2"]


async def test_unplug_replug(scanner: Scanner, scanner_sim: QrScannerSim) -> None:
    scanner_sim.set_fault("unplug")
    await scanner.wait_status(lambda s: s.device is DeviceState.NO_DEVICE, 30)
    scanner_sim.set_fault("replug")
    await scanner.wait_status(online, 30)
    res = await _scan_after(scanner, scanner_sim, "AFTER-REPLUG")
    assert res.ok  # type: ignore[attr-defined]
