"""Hypothesis fuzzing: random bytes never crash a parser, and a valid frame after garbage is recovered."""

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.kiosk.idcard import codec as idc
from edge.kiosk.idcard.record import InvalidCardData, decode_text_block
from edge.kiosk.payment import ecr
from edge.kiosk.printer.status import StatusDecoder
from edge.kiosk.scanner.codec import ScanDecoder

chunks = st.lists(st.binary(max_size=64), max_size=20)
FAST = settings(max_examples=150, deadline=None)


@FAST
@given(chunks)
def test_idcard_decoder_never_crashes(parts: list[bytes]) -> None:
    dec = idc.FrameDecoder()
    for p in parts:
        dec.feed(p)
    assert dec.pending <= idc.HEADER_LEN + idc.MAX_LEN


@FAST
@given(st.binary(max_size=300), st.binary(max_size=40), st.integers(1, 50))
def test_idcard_resync_recovers_frame(garbage: bytes, data: bytes, step: int) -> None:
    good = idc.encode_response(0x90, data)
    dec = idc.FrameDecoder()
    stream = garbage + good
    frames = []
    for i in range(0, len(stream), step):
        frames += [f for f in dec.feed(stream[i : i + step]) if isinstance(f, idc.Frame)]
    # Garbage could by chance form a "frame" whose LEN swallows ours; a second copy must then come through.
    if idc.Frame(bytes([0, 0, 0x90]) + data) not in frames:
        frames += [f for f in dec.feed(good + good) if isinstance(f, idc.Frame)]
    assert idc.Frame(bytes([0, 0, 0x90]) + data) in frames


@FAST
@given(st.binary(min_size=256, max_size=256))
def test_text_block_decoder_only_raises_invalid(block: bytes) -> None:
    with contextlib.suppress(InvalidCardData):
        decode_text_block(block)


@FAST
@given(st.binary(max_size=400), st.sampled_from(list(ecr.LrcVariant)), st.integers(1, 30))
def test_ecr_resync_recovers_frame(garbage: bytes, variant: ecr.LrcVariant, step: int) -> None:
    msg = b"T00000010G"
    good = ecr.encode_frame(msg, variant)
    dec = ecr.FrameDecoder(variant)
    # ETX + any byte would be eaten as an LRC if garbage left a frame open; a second copy gets through.
    stream = garbage + good + good
    events = []
    for i in range(0, len(stream), step):
        events += dec.feed(stream[i : i + step])
    assert ecr.Message(msg) in events


@FAST
@given(st.binary(max_size=200))
def test_ecr_messages_only_raise_message_error(raw: bytes) -> None:
    for direction in (True, False):
        with contextlib.suppress(ecr.MessageError):
            ecr.decode_message(raw, from_terminal=direction)


@FAST
@given(chunks, st.lists(st.integers(1, 4), max_size=5))
def test_printer_status_decoder_never_crashes(parts: list[bytes], pending: list[int]) -> None:
    dec = StatusDecoder()
    for n in pending:
        dec.expect(n)
    for p in parts:
        dec.feed(p)


@FAST
@given(chunks, st.binary(min_size=1, max_size=30).filter(lambda b: b"\r" not in b and b"\n" not in b))
def test_scanner_recovers_code_after_noise(parts: list[bytes], code: bytes) -> None:
    dec = ScanDecoder()
    t = 0.0
    for p in parts:
        dec.feed(p, t)
        t += 0.001
    out = dec.feed(b"\r" + code + b"\r", t)
    assert out[-1].data == code.strip(b"\r\n") or not code.strip(b"\r\n")
