"""ID card framing and text block decoding, with the byte vectors from the facts file."""

import datetime as dt

import pytest

from edge.kiosk.idcard import codec
from edge.kiosk.idcard.codec import Command, Frame, FrameDecoder, FrameError, Status
from edge.kiosk.idcard.record import (
    CardType,
    Gender,
    IdCardRecord,
    InvalidCardData,
    decode_text_block,
    encode_text_block,
    id_number_valid,
)
from edge.kiosk.masking import mask_id_number

P = "AA AA AA 96 69 "


@pytest.mark.parametrize(
    ("command", "frame"),
    [
        (Command.RESET_SAM, P + "00 03 10 FF EC"),
        (Command.SAM_STATUS, P + "00 03 11 FF ED"),
        (Command.READ_SAM_ID, P + "00 03 12 FF EE"),
        (Command.FIND_CARD, P + "00 03 20 01 22"),
        (Command.SELECT_CARD, P + "00 03 20 02 21"),
        (Command.READ_TEXT_PHOTO, P + "00 03 30 01 32"),
        (Command.READ_ADDRESS, P + "00 03 30 03 30"),
        (Command.READ_TEXT_PHOTO_FP, P + "00 03 30 10 23"),
    ],
)
def test_request_frames_match_facts(command: Command, frame: str) -> None:
    assert codec.encode_request(command) == bytes.fromhex(frame)
    (decoded,) = FrameDecoder().feed(bytes.fromhex(frame))
    assert isinstance(decoded, Frame)
    assert decoded.command is command


@pytest.mark.parametrize(
    ("reply", "status", "data_len"),
    [
        (P + "00 04 00 00 90 94", Status.SUCCESS, 0),
        (P + "00 08 00 00 9F 00 00 00 00 97", Status.FIND_OK, 4),
        (P + "00 04 00 00 80 84", Status.NO_CARD, 0),
        (P + "00 0C 00 00 90" + " 00" * 8 + " 9C", Status.SUCCESS, 8),
        (P + "00 04 00 00 81 85", Status.SELECT_FAILED, 0),
    ],
)
def test_reply_frames_match_facts(reply: str, status: Status, data_len: int) -> None:
    raw = bytes.fromhex(reply)
    (frame,) = FrameDecoder().feed(raw)
    assert isinstance(frame, Frame)
    assert frame.status is status
    assert len(frame.data) == data_len
    assert codec.encode_response(status, frame.data) == raw


def _read_reply() -> bytes:
    data = codec.encode_read_reply(bytes(range(256)), bytes(1024))
    return codec.encode_response(0x90, data)


def test_read_reply_is_1295_bytes_with_offsets() -> None:
    raw = _read_reply()
    assert len(raw) == 1295
    assert raw[5:7] == b"\x05\x08"
    assert raw[10:14] == b"\x01\x00\x04\x00"
    assert raw[14:270] == bytes(range(256))
    (frame,) = FrameDecoder().feed(raw)
    assert isinstance(frame, Frame)
    reply = codec.parse_read_reply(frame.data)
    assert reply.text == bytes(range(256))
    assert len(reply.photo) == 1024
    assert reply.fingerprint == b""


def test_fingerprint_reply_has_third_length() -> None:
    data = codec.encode_read_reply(b"t" * 256, b"p" * 1024, b"f" * 512)
    assert data[4:6] == b"\x02\x00"
    reply = codec.parse_read_reply(data, with_fingerprint=True)
    assert reply.fingerprint == b"f" * 512
    with pytest.raises(ValueError, match="do not match"):
        codec.parse_read_reply(data[:-1], with_fingerprint=True)


def test_long_reply_in_chunks() -> None:
    raw = _read_reply()
    dec = FrameDecoder()
    out = []
    for i in range(0, len(raw), 64):
        out += dec.feed(raw[i : i + 64])
    assert len(out) == 1
    assert dec.pending == 0


def test_resync_after_garbage_bad_checksum_and_bad_length() -> None:
    good = bytes.fromhex(P + "00 04 00 00 90 94")
    bad_chk = bytes.fromhex(P + "00 04 00 00 90 95")
    bad_len = bytes.fromhex(P + "FF FF 00")
    dec = FrameDecoder()
    out = dec.feed(b"\x00\xaa\x13" + bad_chk + good + bad_len + b"\xaa\xaa" + good)
    frames = [f for f in out if isinstance(f, Frame)]
    errors = [f.reason for f in out if isinstance(f, FrameError)]
    assert len(frames) == 2
    assert "checksum" in errors
    assert "length" in errors
    assert dec.garbage_bytes > 0


def test_preamble_split_across_reads() -> None:
    good = bytes.fromhex(P + "00 04 00 00 90 94")
    dec = FrameDecoder()
    assert dec.feed(b"junk" + good[:3]) == []
    assert dec.feed(good[3:]) == [Frame(b"\x00\x00\x90")]


def test_status_lookup() -> None:
    assert Status.from_code(0x60) is Status.SAM_SELF_TEST_FAILED
    assert Status.from_code(0x55) is None


def _record(**kw: object) -> IdCardRecord:
    base: dict[str, object] = {
        "name": "林晓梅",
        "gender": Gender.FEMALE,
        "nation_code": "01",
        "birth_date": dt.date(1990, 1, 1),
        "address": "福建省厦门市思明区示例路1号",
        "id_number": "35020319900101123X",
        "authority": "厦门市公安局思明分局",
        "valid_from": dt.date(2015, 6, 1),
        "valid_to": dt.date(2035, 6, 1),
    }
    base.update(kw)
    return IdCardRecord(**base)  # type: ignore[arg-type]


def test_text_block_roundtrip_and_fields() -> None:
    block = encode_text_block(_record())
    assert len(block) == 256
    assert block[0:6] == "林晓梅".encode("utf-16-le")
    assert block[30:32] == b"2\x00"
    rec = decode_text_block(block)
    assert rec.name == "林晓梅"
    assert rec.gender is Gender.FEMALE
    assert rec.nation == "汉"
    assert rec.birth_date == dt.date(1990, 1, 1)
    assert rec.valid_to == dt.date(2035, 6, 1)
    assert not rec.long_term
    assert rec.card_type is CardType.RESIDENT
    assert "3502" in repr(rec)
    assert "林" not in repr(rec)
    assert "199001011" not in repr(rec)


def test_long_term_and_rare_character() -> None:
    rec = decode_text_block(encode_text_block(_record(name="王䶮", valid_to=None)))
    assert rec.long_term
    assert rec.name == "王䶮"
    assert "长期".encode("utf-16-le") in encode_text_block(rec)


def test_hmt_permit_marker() -> None:
    rec = _record(
        id_number="810000198503050024",
        nation_code="",
        card_type=CardType.HMT_PERMIT,
        permit_number="H12345678",
        issue_count="01",
    )
    block = encode_text_block(rec)
    assert block[248:250] == b"J\x00"
    out = decode_text_block(block)
    assert out.card_type is CardType.HMT_PERMIT
    assert out.permit_number == "H12345678"
    assert out.issue_count == "01"


def test_foreigner_card_is_refused() -> None:
    block = bytearray(encode_text_block(_record()))
    block[248:250] = b"I\x00"
    with pytest.raises(InvalidCardData, match="foreigner"):
        decode_text_block(bytes(block))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id_number": "350203199001011234"}, "check digit"),
        ({"nation_code": "77"}, "nation"),
    ],
)
def test_invalid_fields(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidCardData, match=message):
        decode_text_block(encode_text_block(_record(**change)))


def test_bad_dates_and_gender() -> None:
    block = bytearray(encode_text_block(_record()))
    block[36:52] = "19901301".encode("utf-16-le")
    with pytest.raises(InvalidCardData, match="calendar"):
        decode_text_block(bytes(block))
    block = bytearray(encode_text_block(_record()))
    block[30:32] = b"5\x00"
    with pytest.raises(InvalidCardData, match="gender"):
        decode_text_block(bytes(block))
    with pytest.raises(InvalidCardData, match="256"):
        decode_text_block(b"short")


def test_check_digit_known_vectors() -> None:
    # Public examples from GB 11643 explanations.
    assert id_number_valid("11010519491231002X")
    assert id_number_valid("440524188001010014")
    assert not id_number_valid("440524188001010015")
    assert not id_number_valid("44052418800101001")


def test_masking() -> None:
    assert mask_id_number("35020319900101123X") == "3502**********123X"
