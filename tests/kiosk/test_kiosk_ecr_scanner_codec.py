"""ECR framing/messages and scanner framing."""

import pytest

from edge.kiosk.payment import ecr
from edge.kiosk.payment.ecr import (
    Ack,
    BadFrame,
    Code,
    FrameDecoder,
    LrcVariant,
    Message,
    Nak,
    PaymentRequest,
    Progress,
    ResultCode,
    SimpleRequest,
    StatusReply,
    TotalsReply,
    TransactionResult,
)
from edge.kiosk.scanner.codec import CRLF, TRIGGER_OFF, TRIGGER_ON, ScanDecoder


def test_lrc_variants() -> None:
    assert ecr.encode_frame(b"AB", LrcVariant.PLAIN) == b"\x02AB\x03" + bytes([0x41 ^ 0x42 ^ 0x03])
    assert ecr.encode_frame(b"AB", LrcVariant.SEEDED_7F)[-1] == 0x7F ^ 0x41 ^ 0x42 ^ 0x03
    assert ecr.encode_control(ecr.ACK, LrcVariant.SEEDED_7F, framed=True) == bytes([6, 3, 0x7F ^ 6 ^ 3])
    assert ecr.encode_control(ecr.NAK, LrcVariant.PLAIN, framed=False) == b"\x15"


@pytest.mark.parametrize("variant", list(LrcVariant))
def test_decoder_events(variant: LrcVariant) -> None:
    dec = FrameDecoder(variant)
    good = ecr.encode_frame(b"12345678" + b"0G", variant)
    bad = bytearray(good)
    bad[-1] ^= 0xFF
    stream = (
        b"\xff"
        + ecr.encode_control(ecr.ACK, variant, framed=True)
        + ecr.encode_control(ecr.NAK, variant, framed=False)
        + ecr.encode_progress("INSERT CARD")
        + bytes(bad)
        + good
    )
    out = []
    for b in stream:  # byte at a time: frames split across reads
        out += dec.feed(bytes([b]))
    assert out == [Ack(), Nak(), Progress("INSERT CARD".ljust(20)), BadFrame("lrc"), Message(b"123456780G")]
    assert dec.garbage_bytes == 1


def test_truncated_frame_resyncs() -> None:
    dec = FrameDecoder(LrcVariant.PLAIN)
    good = ecr.encode_frame(b"X", LrcVariant.PLAIN)
    assert dec.feed(b"\x02abc" + good) == [BadFrame("truncated"), Message(b"X")]


def test_messages_roundtrip() -> None:
    pay = PaymentRequest("T0000001", "KIOSK001", 12345, "ref-0001")
    raw = ecr.encode_message(pay)
    assert raw == b"T00000010PKIOSK00100012345ref-0001        "
    assert ecr.decode_message(raw, from_terminal=False) == pay
    res = TransactionResult(
        "T0000001",
        ResultCode.APPROVED,
        "6222********1234",
        "A1B2C3",
        "000042",
        "ON0001",
        12345,
        "ref-0001",
        "261122143000",
    )
    assert ecr.decode_message(ecr.encode_message(res), from_terminal=True) == res
    for req in (
        SimpleRequest("T0000001", Code.GET_LAST),
        SimpleRequest("T0000001", Code.REVERSE, "000042"),
        SimpleRequest("T0000001", Code.TOTALS),
        SimpleRequest("T0000001", Code.STATUS),
        SimpleRequest("T0000001", Code.CLOSE),
    ):
        assert ecr.decode_message(ecr.encode_message(req), from_terminal=False) == req
    tot = TotalsReply("T0000001", 3, 99900)
    assert ecr.decode_message(ecr.encode_message(tot), from_terminal=True) == tot
    st = StatusReply("T0000001", True, "READY")
    assert ecr.decode_message(ecr.encode_message(st), from_terminal=True) == st


@pytest.mark.parametrize(
    "raw",
    [b"short", b"T00000019P", b"T00000010Z", b"T00000010P123", "T00000010G\u00e9".encode(), b"T00000010Exx"],
)
def test_bad_messages(raw: bytes) -> None:
    with pytest.raises(ecr.MessageError):
        ecr.decode_message(raw, from_terminal=raw[9:10] == b"E")


def test_field_overflow() -> None:
    with pytest.raises(ecr.MessageError, match="wider"):
        ecr.encode_message(PaymentRequest("T0000001", "K", 1, "x" * 17))


def test_scanner_terminator_and_gap() -> None:
    dec = ScanDecoder()
    assert [c.data for c in dec.feed(b"ABC\r\nDE", 0.0)] == [b"ABC"]
    assert dec.deadline() == pytest.approx(0.05)
    assert dec.poll(0.01) == []
    assert [c.data for c in dec.poll(0.06)] == [b"DE"]
    assert dec.deadline() is None
    # a gap before the next chunk ends the pending code first
    dec.feed(b"NOSUFFIX", 1.0)
    out = dec.feed(b"NEXT\r", 2.0)
    assert [c.data for c in out] == [b"NOSUFFIX", b"NEXT"]
    assert "NEXT" not in repr(out[1])


def test_scanner_crlf() -> None:
    dec = ScanDecoder(terminator=CRLF, gap=None)
    assert dec.feed(b"A\r", 0) == []
    assert [c.text for c in dec.feed(b"\nB\r\n", 0)] == ["A", "B"]
    assert dec.poll(100) == []
    with pytest.raises(ValueError, match="terminator"):
        ScanDecoder(terminator=b"\n")
    assert TRIGGER_ON == b"\x16\x54\x0d"
    assert TRIGGER_OFF == b"\x16\x55\x0d"
