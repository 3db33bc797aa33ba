"""Receipt printer driver against the ESC/POS simulator over a real pty."""

import asyncio
from pathlib import Path

import pytest
from kiosk.kiosk_pty import online

from devices.simulators.kiosk.escpos_interp import Raster
from devices.simulators.kiosk.printer import EscPosPrinterSim
from edge.kiosk.device import Completion, DeviceState, MediaState
from edge.kiosk.printer.driver import ReceiptPrinter
from edge.kiosk.printer.escpos import Align, Document


def receipt(n: int = 1) -> Document:
    doc = Document().align(Align.CENTER).size(2, 2).line("派出所自助服务").size()
    doc.align(Align.LEFT).line(f"业务编号: 2026-{n:05d}").line("办理人: 林晓梅").line("金额: 20.00 元")
    return doc.qr(f"https://verify.example/r/{n}", module=4).code128(f"R{n:08d}").cut()


async def test_prints_and_captures_receipt(
    printer: ReceiptPrinter, printer_sim: EscPosPrinterSim, tmp_path: Path
) -> None:
    res = await printer.print_job(receipt(7), "job-7").result()
    assert res.completion is Completion.SUCCESS, res.error
    (rec,) = printer_sim.receipts
    assert rec.cut
    assert "派出所自助服务" in rec.text
    assert "办理人: 林晓梅" in rec.text
    assert rec.qr_payloads == [b"https://verify.example/r/7"]
    assert "[CODE128 R00000007]" in rec.text
    assert (tmp_path / "receipt-0001.txt").read_text(encoding="utf-8").startswith("派出所自助服务")


async def test_same_job_is_never_resent(printer: ReceiptPrinter, printer_sim: EscPosPrinterSim) -> None:
    assert (await printer.print_job(receipt(), "job-1").result()).ok
    again = await printer.print_job(receipt(), "job-1").result()
    assert again.completion is Completion.USER_ERROR
    assert len(printer_sim.receipts) == 1
    assert (await printer.print_job(receipt(), "job-1", reprint=True).result()).ok
    assert len(printer_sim.receipts) == 2


async def test_paper_near_end_prints_and_is_pushed(printer: ReceiptPrinter, printer_sim: EscPosPrinterSim) -> None:
    printer_sim.set_fault("paper", "low")
    st = await printer.wait_status(lambda s: s.media is MediaState.PAPER_LOW, 1)  # ASB push
    assert st.device is DeviceState.ONLINE
    op = printer.print_job(receipt(), "job-low")
    events = [ev.name async for ev in op.events()]
    assert (await op.result()).ok
    assert "paper_low" in events


async def test_paper_out_refuses_job(printer: ReceiptPrinter, printer_sim: EscPosPrinterSim) -> None:
    printer_sim.set_fault("paper", "out")
    await printer.wait_status(lambda s: s.media is MediaState.PAPER_OUT, 30)
    res = await printer.print_job(receipt(), "job-out").result()
    assert res.completion is Completion.DEVICE_NOT_READY
    assert "paper out" in res.error
    assert printer_sim.receipts == []
    printer_sim.set_fault("paper", "full")  # technician reloads paper
    await printer.wait_status(lambda s: online(s) and s.media is MediaState.PAPER_FULL, 30)
    assert (await printer.print_job(receipt(), "job-out-2").result()).ok


async def test_cover_open(printer: ReceiptPrinter, printer_sim: EscPosPrinterSim) -> None:
    printer_sim.set_fault("cover_open", True)
    st = await printer.wait_status(lambda s: s.device is DeviceState.OFFLINE, 30)
    assert st.detail == "cover open"
    assert (await printer.print_job(receipt(), "job-c").result()).completion is Completion.DEVICE_NOT_READY
    printer_sim.set_fault("cover_open", False)
    await printer.wait_status(online, 30)


async def test_cutter_error_after_job_is_not_reported_printed(
    printer: ReceiptPrinter, printer_sim: EscPosPrinterSim
) -> None:
    printer_sim.set_fault("jam_next_cut")
    res = await printer.print_job(receipt(), "job-jam").result()
    assert res.completion is Completion.HARDWARE_ERROR
    assert "not confirmed printed" in res.error
    assert "not re-sent" in res.error
    st = printer.status
    assert st.device is DeviceState.HARDWARE_ERROR
    assert st.media is MediaState.PAPER_JAMMED
    await asyncio.sleep(0.3)
    assert len(printer_sim.receipts) == 1  # nothing was re-sent by polls or reconnects
    printer_sim.set_fault("cutter_error", False)
    await printer.wait_status(online, 30)


async def test_paper_runs_out_during_job(printer: ReceiptPrinter, printer_sim: EscPosPrinterSim) -> None:
    printer_sim.set_fault("paper_out_next_job")
    res = await printer.print_job(receipt(), "job-po").result()
    assert res.completion is Completion.HARDWARE_ERROR
    assert printer.status.media is MediaState.PAPER_OUT


async def test_polling_never_interrupts_a_job(printer: ReceiptPrinter, printer_sim: EscPosPrinterSim) -> None:
    # A raster image is where a stray DLE EOT would be printed as pixels.
    bits = bytes([0x10, 0x04, 0x01]) * 400  # image data that looks like DLE EOT must not be answered
    doc = Document(chinese=False).line("IMAGE").raster(30, 40, bits).cut()
    printer.poll_interval = 0.01
    res = await printer.print_job(doc, "job-raster").result()
    assert res.ok, res.error
    (rec,) = printer_sim.receipts
    assert "[IMAGE 240x40]" in rec.text
    (image,) = [el for el in rec.elements if isinstance(el, Raster)]
    assert image.bits == bits  # no status request landed inside the image data
    assert printer_sim.port.rx_bytes > len(doc.bytes())


@pytest.mark.parametrize(("fault", "value"), [("garbage", 8), ("split", True)])
async def test_status_survives_line_faults(
    printer: ReceiptPrinter, printer_sim: EscPosPrinterSim, fault: str, value: object
) -> None:
    printer_sim.set_fault(fault, value)
    assert (await printer.print_job(receipt(), f"job-{fault}").result()).ok


async def test_silence_then_recovery(printer: ReceiptPrinter, printer_sim: EscPosPrinterSim) -> None:
    printer_sim.set_fault("silent", True)
    await printer.wait_status(lambda s: s.device is DeviceState.OFFLINE, 30)
    assert (await printer.print_job(receipt(), "job-s").result()).completion is Completion.TIMEOUT
    assert printer_sim.receipts == []  # the pre-check failed: no job bytes were sent
    printer_sim.set_fault("silent", False)
    await printer.wait_status(online, 30)


async def test_unplug_replug(printer: ReceiptPrinter, printer_sim: EscPosPrinterSim) -> None:
    printer_sim.set_fault("unplug")
    await printer.wait_status(lambda s: s.device is DeviceState.NO_DEVICE, 30)
    assert (await printer.print_job(receipt(), "job-u").result()).completion is Completion.DEVICE_NOT_READY
    printer_sim.set_fault("replug")
    await printer.wait_status(online, 30)
    assert (await printer.print_job(receipt(), "job-u2").result()).ok
    assert len(printer_sim.receipts) == 1
