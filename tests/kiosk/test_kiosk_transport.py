"""Serial transport by URL (loop://, socket://, pty paths), reconnect, trace redaction, and the factory."""

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError

from devices.simulators.kiosk.bundle import SimulatedKiosk
from edge.kiosk import trace
from edge.kiosk.config import PeripheralConfig
from edge.kiosk.device import DeviceState, DeviceStatus
from edge.kiosk.factory import KioskPeripherals, build_driver
from edge.kiosk.payment.driver import PaymentTerminal
from edge.kiosk.serial_port import LinkConfig, NotConnected, SerialLink


async def _echo_roundtrip(url: str) -> bytes:
    got = bytearray()
    arrived = asyncio.Event()

    def on_data(data: bytes) -> None:
        got.extend(data)
        if len(got) >= 5:
            arrived.set()

    async with SerialLink(LinkConfig(url), on_data) as link:
        await link.wait_connected(30)
        await link.write(b"hello")
        async with asyncio.timeout(30):
            await arrived.wait()
    return bytes(got)


async def test_loop_url_uses_thread_fallback() -> None:
    assert await _echo_roundtrip("loop://") == b"hello"


async def test_socket_url() -> None:
    closed = asyncio.Event()

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.read(5))
        await writer.drain()
        await reader.read()  # until the link closes
        writer.close()
        await writer.wait_closed()
        closed.set()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        assert await _echo_roundtrip(f"socket://127.0.0.1:{port}") == b"hello"
        async with asyncio.timeout(30):
            await closed.wait()


async def test_write_when_not_connected(tmp_path: Path) -> None:
    states: list[bool] = []
    async with SerialLink(
        LinkConfig(str(tmp_path / "absent"), reconnect_min=0.01), lambda d: None, states.append
    ) as link:
        await asyncio.sleep(0.05)
        with pytest.raises(NotConnected):
            await link.write(b"x")
    assert states == []


def test_redactors() -> None:
    rx, tx = trace.Direction.RX, trace.Direction.TX
    assert trace.redact_idcard(tx, b"\xaa\xaa\xaa\x96\x69\x00\x03\x20\x01\x22") == "aa aa aa 96 69 00 03 20 01 22"
    long = b"\xaa\xaa\xaa\x96\x69\x05\x08\x00\x00\x90" + b"secret" * 10
    assert b"secret".hex() not in trace.redact_idcard(rx, long)
    assert trace.redact_idcard(rx, b"x" * 40) == "<40 bytes withheld>"
    assert trace.redact_scanner(rx, b"2812345678\r") == "<11 bytes withheld>"
    assert trace.redact_printer(tx, "林晓梅".encode("gb18030")) == "<job chunk 6 bytes withheld>"
    assert trace.redact_printer(tx, b"\x10\x04\x01") == "10 04 01"
    assert trace.redact_payment(tx, b"\x06\x03\x7a") == "06 03 7a"
    assert "REF" not in trace.redact_payment(tx, b"\x0200000001" + b"0PKIOSK001REF\x03\x00")
    assert trace.redact_hex(tx, b"abc") == "<3 bytes>"


def test_factory_validates_options() -> None:
    with pytest.raises(ValidationError):
        build_driver("K1", PeripheralConfig(kind="printer", port="loop://", options={"bogus": 1}))
    with pytest.raises(ValidationError):
        PeripheralConfig(kind="fax", port="loop://")
    drv = build_driver("K1", PeripheralConfig(kind="payment", port="loop://", options={"lrc": "plain"}))
    assert isinstance(drv, PaymentTerminal)
    assert drv.options.lrc.name == "PLAIN"


async def test_whole_kiosk_from_config(tmp_path: Path) -> None:
    sims = SimulatedKiosk(tmp_path)
    await sims.start()
    seen: list[tuple[str, DeviceStatus]] = []
    configs = [
        PeripheralConfig(
            kind=kind,
            port=str(tmp_path / kind),
            baud=9600 if kind == "scanner" else 115200,
            options={"poll_interval": 0.1} if kind != "scanner" else {},
        )
        for kind in ("idcard", "printer", "scanner", "payment")
    ]
    configs[0] = configs[0].model_copy(update={"options": {"poll_interval": 0.1, "timeout_scale": 3.0}})
    try:
        async with KioskPeripherals("K01", configs, lambda k, s: seen.append((k, s))) as kiosk:
            async with asyncio.timeout(30):  # a ceiling on the condition, not a 2 s budget
                while not all(s.device is DeviceState.ONLINE for s in kiosk.statuses().values()):
                    await asyncio.sleep(0.02)
            assert {k: s.device for k, s in kiosk.statuses().items()} == dict.fromkeys(
                ("idcard", "printer", "scanner", "payment"), DeviceState.ONLINE
            )
            assert kiosk.printer is not None
            assert kiosk.idcard is not None
            assert kiosk.scanner is not None
            assert kiosk.payment is not None
        assert {k for k, _ in seen} == {"K01"}
        with pytest.raises(ValueError, match="two printer"):
            KioskPeripherals("K02", [configs[1], configs[1]])
    finally:
        await sims.stop()


async def test_service_reports_devices(tmp_path: Path) -> None:
    from edge.kiosk.config import KioskSection
    from edge.kiosk.service import KioskService

    sims = SimulatedKiosk(tmp_path)
    await sims.start()
    section = KioskSection.model_validate(
        {
            "kiosks": [
                {
                    "id": "K07",
                    "peripherals": [
                        {"kind": "printer", "port": str(tmp_path / "printer"), "options": {"poll_interval": 0.05}}
                    ],
                }
            ]
        }
    )
    changes: list[tuple[str, str]] = []
    try:
        async with KioskService(section, lambda k, kind, s: changes.append((k, kind))) as svc:
            printer = svc.kiosks["K07"].printer
            assert printer is not None
            await printer.wait_status(lambda s: s.device is DeviceState.ONLINE, 30)
            assert svc.devices("K07") == {"printer": {"device": "online", "media": "paper_full", "detail": ""}}
            assert svc.devices("nope") is None
        assert ("K07", "printer") in changes
    finally:
        await sims.stop()
