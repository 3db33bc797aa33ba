"""The technician's path: start the simulated kiosk from the CLI, flip faults over the control API."""

import asyncio
import subprocess
import sys
from pathlib import Path

from devices.simulators.kiosk.cli import main
from edge.kiosk.device import DeviceState, MediaState
from edge.kiosk.printer.driver import ReceiptPrinter
from edge.kiosk.serial_port import LinkConfig


def _start(tmp_path: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devices.simulators.kiosk.cli",
            "run",
            "--dir",
            str(tmp_path),
            "--port",
            "0",
            "--duration",
            "20",
            "--receipts",
            str(tmp_path / "receipts"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines: dict[str, str] = {}
    while "control" not in lines:
        line = proc.stdout.readline()
        assert line, "simulator exited early"
        key, _, value = line.strip().partition(": ")
        lines[key] = value
    return proc, lines


async def test_cli_starts_kiosk_and_flips_faults(tmp_path: Path, capsys: object) -> None:
    proc, lines = await asyncio.to_thread(_start, tmp_path)
    try:
        assert set(lines) == {"idcard", "printer", "scanner", "payment", "control"}
        assert lines["printer"] == str(tmp_path / "printer")
        link = LinkConfig(lines["printer"], reconnect_min=0.02, reconnect_max=0.1)
        async with ReceiptPrinter(link, poll_interval=0.1, status_timeout=0.5) as printer:
            await printer.wait_status(lambda s: s.device is DeviceState.ONLINE, 30)
            rc = await asyncio.to_thread(main, ["fault", "printer", "paper", "out", "--control", lines["control"]])
            assert rc == 0
            await printer.wait_status(lambda s: s.media is MediaState.PAPER_OUT, 30)
            rc = await asyncio.to_thread(main, ["fault", "printer", "unplug", "--control", lines["control"]])
            await printer.wait_status(lambda s: s.device is DeviceState.NO_DEVICE, 30)
            await asyncio.to_thread(main, ["fault", "printer", "replug", "--control", lines["control"]])
            await asyncio.to_thread(main, ["fault", "printer", "paper", "full", "--control", lines["control"]])
            await printer.wait_status(lambda s: s.device is DeviceState.ONLINE, 30)
        bad = await asyncio.to_thread(main, ["fault", "printer", "no_such_fault", "--control", lines["control"]])
        assert bad == 1
        assert await asyncio.to_thread(main, ["status", "--control", lines["control"]]) == 0
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
        assert proc.stdout is not None
        proc.stdout.close()


def test_fault_command_refuses_non_loopback() -> None:
    assert main(["fault", "printer", "paper", "out", "--control", "http://192.0.2.1:1"]) == 2
