"""Simulator behaviour on its own: pacing at the baud rate, receipt rendering with a decodable QR code."""

import asyncio
import os
import time
from pathlib import Path

from devices.simulators.kiosk.bundle import parse_value
from devices.simulators.kiosk.escpos_interp import EscPosInterpreter, QrCode, Receipt, TextLine
from devices.simulators.kiosk.idcard import IdCardReaderSim
from devices.simulators.kiosk.render import render_png
from edge.kiosk.idcard import codec
from edge.kiosk.printer.escpos import Document


async def _read_exact(fd: int, n: int) -> bytes:
    loop = asyncio.get_running_loop()
    out = bytearray()
    while len(out) < n:
        fut: asyncio.Future[None] = loop.create_future()
        loop.add_reader(fd, fut.set_result, None)
        try:
            await fut
        finally:
            loop.remove_reader(fd)
        out += os.read(fd, 4096)
    return bytes(out)


async def test_reader_output_is_paced_at_baud(tmp_path: Path) -> None:
    sim = IdCardReaderSim(tmp_path)
    await sim.start()
    sim.insert("standard")
    fd = os.open(sim.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        os.write(fd, codec.encode_request(codec.Command.READ_TEXT_PHOTO))
        start = time.perf_counter()
        raw = await _read_exact(fd, 1295)
        elapsed = time.perf_counter() - start
    finally:
        os.close(fd)
        await sim.stop()
    floor = 1295 * 10 / 115200
    assert elapsed >= 0.9 * floor  # a pty alone would deliver this in well under a millisecond
    assert elapsed < 30 * floor  # a generous ceiling (a loaded machine stretches it), far below "no pacing" bugs
    assert raw[:7] == bytes.fromhex("AAAAAA96690508")


def test_interpreter_splits_and_renders(tmp_path: Path) -> None:
    job = Document().line("受理回执").qr("https://verify.example/r/42", module=5).cut().bytes()
    cuts: list[int] = []
    interp = EscPosInterpreter(lambda n: None, lambda: cuts.append(1), lambda m: None)
    for b in job:  # byte at a time: every command split across reads
        interp.feed(bytes([b]))
    receipt = interp.receipt
    assert cuts == [1]
    assert isinstance(receipt.elements[0], TextLine)
    assert receipt.elements[0].text == "受理回执"
    assert receipt.qr_payloads == [b"https://verify.example/r/42"]
    png = render_png(receipt, tmp_path / "r.png")
    assert png.stat().st_size > 500


def test_png_qr_decodes(tmp_path: Path) -> None:
    import zxingcpp  # a test extra: missing means a broken setup, not a skip
    from PIL import Image

    receipt = Receipt([TextLine("回执"), QrCode(b"https://verify.example/r/99", 6, 0x31)], cut=True)
    png = render_png(receipt, tmp_path / "q.png")
    results = zxingcpp.read_barcodes(Image.open(png))
    assert [r.text for r in results] == ["https://verify.example/r/99"]


def test_parse_value() -> None:
    assert parse_value(None) is True
    assert parse_value("false") is False
    assert parse_value("3") == 3
    assert parse_value("0.5") == 0.5
    assert parse_value("out") == "out"
