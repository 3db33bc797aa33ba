"""Simulators on real pseudo-terminals and drivers opened on their paths."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kiosk.kiosk_pty import link, online

from devices.simulators.kiosk.idcard import IdCardReaderSim
from devices.simulators.kiosk.payment import PaymentTerminalSim
from devices.simulators.kiosk.printer import EscPosPrinterSim
from devices.simulators.kiosk.scanner import QrScannerSim
from edge.kiosk.idcard.driver import IdCardReader
from edge.kiosk.payment.driver import PaymentOptions, PaymentTerminal
from edge.kiosk.printer.driver import ReceiptPrinter
from edge.kiosk.scanner.driver import Scanner


@pytest.fixture
async def idcard_sim(tmp_path: Path) -> AsyncIterator[IdCardReaderSim]:
    sim = IdCardReaderSim(tmp_path)
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def idcard(idcard_sim: IdCardReaderSim) -> AsyncIterator[IdCardReader]:
    # timeout_scale: public timeouts are 100 ms; a loaded 2-core CI box needs headroom.
    drv = IdCardReader(link(idcard_sim.path), poll_interval=0.1, find_interval=0.02, timeout_scale=3.0)
    async with drv:
        await drv.wait_status(online, 30)
        yield drv


@pytest.fixture
async def printer_sim(tmp_path: Path) -> AsyncIterator[EscPosPrinterSim]:
    sim = EscPosPrinterSim(tmp_path, output_dir=tmp_path, render=False)
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def printer(printer_sim: EscPosPrinterSim) -> AsyncIterator[ReceiptPrinter]:
    # Protocol timeouts well above a loaded machine's scheduling delays (the paced bytes take milliseconds).
    drv = ReceiptPrinter(link(printer_sim.path), poll_interval=0.1, status_timeout=1.0)
    async with drv:
        await drv.wait_status(online, 30)
        yield drv


@pytest.fixture
async def scanner_sim(tmp_path: Path) -> AsyncIterator[QrScannerSim]:
    sim = QrScannerSim(tmp_path)
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def scanner(scanner_sim: QrScannerSim) -> AsyncIterator[Scanner]:
    drv = Scanner(link(scanner_sim.path, 9600))
    async with drv:
        await drv.wait_status(online, 30)
        yield drv


@pytest.fixture
async def payment_sim(tmp_path: Path) -> AsyncIterator[PaymentTerminalSim]:
    sim = PaymentTerminalSim(tmp_path, host_delay=0.05, reboot_time=0.15)
    await sim.start()
    yield sim
    await sim.stop()


# Short enough for quick tests, long enough that a loaded machine's scheduling delays are not timeouts.
FAST_PAYMENT = PaymentOptions(ack_timeout=1.0, sale_timeout=2.0, query_timeout=1.0, reconnect_wait=1.0)


@pytest.fixture
async def payment(payment_sim: PaymentTerminalSim) -> AsyncIterator[PaymentTerminal]:
    drv = PaymentTerminal(link(payment_sim.path), FAST_PAYMENT, poll_interval=0.2)
    async with drv:
        await drv.wait_status(online, 30)
        yield drv
