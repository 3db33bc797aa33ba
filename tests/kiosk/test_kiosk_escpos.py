"""ESC/POS builder and status decoding against the facts file."""

import pytest

from edge.kiosk.printer import escpos
from edge.kiosk.printer.escpos import Document, QrErrorLevel
from edge.kiosk.printer.status import (
    AsbBlock,
    PaperState,
    PrinterHealth,
    StatusDecoder,
    StatusReply,
    apply_asb,
    apply_dle_eot,
    encode_asb,
    encode_dle_eot,
)


def test_builder_bytes() -> None:
    doc = Document().size(2, 2).line("回执").size().qr("https://x.example/q?1", module=4).cut()
    raw = doc.bytes()
    assert raw.startswith(b"\x1b\x40\x1c\x26")
    assert b"\x1d\x21\x11" in raw
    assert "回执".encode("gb18030") + b"\n" in raw
    assert b"\x1d\x28\x6b\x04\x00\x31\x41\x32\x00" in raw
    assert b"\x1d\x28\x6b\x03\x00\x31\x43\x04" in raw
    assert b"\x1d\x28\x6b\x03\x00\x31\x45\x31" in raw
    n = len("https://x.example/q?1") + 3
    assert b"\x1d\x28\x6b" + bytes([n, 0]) + b"\x31\x50\x30https://x.example/q?1" in raw
    assert raw.endswith(b"\x1d\x28\x6b\x03\x00\x31\x51\x30\x1d\x56\x42\x03")


def test_qr_long_payload_uses_ph() -> None:
    raw = Document(chinese=False).qr(b"a" * 300, level=QrErrorLevel.L).bytes()
    assert b"\x1d\x28\x6b\x2f\x01\x31\x50\x30" in raw  # 303 = 0x012F
    assert b"\x31\x45\x30" in raw


def test_code128_and_cuts() -> None:
    raw = Document(chinese=False).code128("AB-12", height=60).cut(partial=False, feed=0).bytes()
    assert b"\x1d\x68\x3c\x1d\x77\x02\x1d\x48\x02\x1d\x6b\x49\x07{BAB-12" in raw
    assert raw.endswith(b"\x1d\x56\x41\x00")


def test_rare_characters_are_replaced_and_reported() -> None:
    doc = Document().text("王㛃")
    assert doc.unprintable == ["㛃"]
    assert doc.bytes().endswith("王?".encode("gb18030"))
    assert not escpos.is_double_byte_printable("㛃")
    assert escpos.is_double_byte_printable("王")


def test_builder_validation() -> None:
    with pytest.raises(ValueError, match="must be 1"):
        Document().size(9, 1)
    with pytest.raises(ValueError, match="size must be 1"):
        Document().qr("x", module=0)
    with pytest.raises(ValueError, match="n must be 1"):
        escpos.status_request(5)
    with pytest.raises(ValueError, match="raster"):
        Document().raster(2, 2, b"\x00")
    assert escpos.status_request(4) == b"\x10\x04\x04"
    assert Document().raster(1, 1, b"\x80").bytes().endswith(b"\x1d\x76\x30\x00\x01\x00\x01\x00\x80")


@pytest.mark.parametrize(("byte", "paper"), [(0x12, PaperState.FULL), (0x1E, PaperState.LOW), (0x72, PaperState.OUT)])
def test_paper_sensor_bytes(byte: int, paper: PaperState) -> None:
    health = apply_dle_eot(PrinterHealth(), 4, byte)
    assert health.paper is paper
    assert encode_dle_eot(health, 4) == byte


def test_dle_eot_bits() -> None:
    h = apply_dle_eot(PrinterHealth(), 1, 0x12 | 0x08)
    assert h.offline
    h = apply_dle_eot(h, 2, 0x12 | 0x04 | 0x40)
    assert h.cover_open
    assert h.error
    h = apply_dle_eot(h, 3, 0x12 | 0x08)
    assert h.cutter_error
    assert h.hardware_fault
    assert not h.ready
    with pytest.raises(ValueError, match="DLE EOT"):
        apply_dle_eot(h, 1, 0x00)


def test_asb_block() -> None:
    h = apply_asb(PrinterHealth(), bytes([0x10 | 0x20, 0x08, 0x0C, 0x00]))
    assert h.cover_open
    assert h.cutter_error
    assert h.paper is PaperState.OUT
    assert apply_asb(PrinterHealth(), bytes([0x10, 0, 0x03, 0])).paper is PaperState.LOW
    assert apply_asb(PrinterHealth(), encode_asb(h)) == h
    with pytest.raises(ValueError, match="ASB"):
        apply_asb(PrinterHealth(), bytes([0x12, 0, 0, 0]))


def test_status_decoder_separates_replies_and_asb() -> None:
    dec = StatusDecoder()
    dec.expect(1)
    dec.expect(4)
    out = dec.feed(bytes([0x12, 0x10, 0x00]) + bytes([0x00, 0x00, 0x72, 0xFF]))
    assert out == [StatusReply(1, 0x12), AsbBlock(bytes([0x10, 0, 0, 0])), StatusReply(4, 0x72)]
    assert dec.garbage_bytes == 1
    assert dec.outstanding == 0
