"""Kiosk serial benchmark: drivers over real ptys against simulators paced at 115200 baud (8N1).

Baseline = the wire-time floor of the same frames: bytes x 10 bits / baud. Goal: ratio <= 2.

    .venv/bin/python bench/kiosk_serial.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.simulators.kiosk.idcard import IdCardReaderSim
from devices.simulators.kiosk.printer import EscPosPrinterSim
from edge.kiosk.device import DeviceState
from edge.kiosk.idcard import codec
from edge.kiosk.idcard.codec import Command
from edge.kiosk.idcard.driver import IdCardReader
from edge.kiosk.printer.driver import ReceiptPrinter
from edge.kiosk.printer.escpos import Align, Document
from edge.kiosk.serial_port import LinkConfig

BAUD = 115200
ROUNDS = 15
JOBS = 20


def wire(n_bytes: int) -> float:
    return n_bytes * 10 / BAUD


def receipt(n: int) -> Document:
    doc = Document().align(Align.CENTER).size(2, 2).line("派出所自助服务回执").size().align(Align.LEFT)
    for label in (
        "业务类型: 户籍证明",
        f"受理编号: 2026{n:08d}",
        "办理人: 林*梅",
        "证件号: 3502**********123X",
        "受理时间: 2026-11-22 14:30",
        "金额: 20.00 元 (已支付)",
    ):
        doc.line(label)
    return doc.qr(f"https://verify.example/r/{n:08d}", module=4).code128(f"R{n:08d}").feed(2).cut()


async def bench_idcard(link_dir: Path) -> None:
    sim = IdCardReaderSim(link_dir, baud=BAUD)
    await sim.start()
    sim.insert("standard")
    drv = IdCardReader(LinkConfig(str(sim.path), BAUD), poll_interval=3600)
    try:
        await drv.start()
        await drv.link.wait_connected(2)
        full, read_only = [], []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            res = await drv.read_card(wait=2).result()
            full.append(time.perf_counter() - start)
            assert res.ok, res.error
            start = time.perf_counter()
            reply = await drv.exchange(Command.READ_TEXT_PHOTO).result()
            read_only.append(time.perf_counter() - start)
            assert reply.value is not None
            assert len(reply.value.data) == 1284
    finally:
        await drv.stop()
        await sim.stop()
    req = len(codec.encode_request(Command.FIND_CARD))
    replies = len(codec.encode_response(0x9F, bytes(4))) + len(codec.encode_response(0x90, bytes(8))) + 1295
    floor_full = wire(3 * req + replies)
    floor_read = wire(req + 1295)
    ours_full, ours_read = statistics.median(full), statistics.median(read_only)
    print(
        f"idcard_find_select_read: ours {ours_full * 1000:.1f} ms, baseline {floor_full * 1000:.1f} ms, "
        f"ratio {ours_full / floor_full:.2f}"
    )
    print(
        f"idcard_read_text_photo: ours {ours_read * 1000:.1f} ms, baseline {floor_read * 1000:.1f} ms, "
        f"ratio {ours_read / floor_read:.2f}"
    )


async def bench_printer(link_dir: Path) -> None:
    sim = EscPosPrinterSim(link_dir, baud=BAUD)
    await sim.start()
    drv = ReceiptPrinter(LinkConfig(str(sim.path), BAUD), poll_interval=3600)
    jobs = [receipt(i).bytes() for i in range(JOBS)]
    try:
        await drv.start()
        await drv.wait_status(lambda s: s.device is DeviceState.ONLINE, 3)
        start = time.perf_counter()
        for i, job in enumerate(jobs):
            res = await drv.print_job(job, f"bench-{i}").result()
            assert res.ok, res.error
        elapsed = time.perf_counter() - start
    finally:
        await drv.stop()
        await sim.stop()
    assert len(sim.receipts) == JOBS
    size = statistics.mean(len(j) for j in jobs)
    # Per job on the wire: the job, two DLE EOT 1..4 rounds (12 bytes out, 4 back each).
    floor = wire(int(size) + 2 * (12 + 4))
    ours_rate, floor_rate = JOBS / elapsed, 1 / floor
    print(
        f"printer_jobs_per_s ({size:.0f}-byte receipt): ours {ours_rate:.1f} jobs/s, "
        f"baseline {floor_rate:.1f} jobs/s, ratio {floor_rate / ours_rate:.2f}"
    )


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as tmp:
        await bench_idcard(Path(tmp))
        await bench_printer(Path(tmp))


if __name__ == "__main__":
    asyncio.run(main())
