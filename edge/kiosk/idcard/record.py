"""The 256-byte UCS-2LE text block of a resident ID card (and HK/Macao/Taiwan permit) as a typed record."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

from edge.kiosk.masking import mask_id_number

TEXT_BLOCK_LEN = 256
LONG_TERM = "长期"
_CHECK_CHARS = "10X98765432"
_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]

_NATION_NAMES = [
    "汉",
    "蒙古",
    "回",
    "藏",
    "维吾尔",
    "苗",
    "彝",
    "壮",
    "布依",
    "朝鲜",
    "满",
    "侗",
    "瑶",
    "白",
    "土家",
    "哈尼",
    "哈萨克",
    "傣",
    "黎",
    "傈僳",
    "佤",
    "畲",
    "高山",
    "拉祜",
    "水",
    "东乡",
    "纳西",
    "景颇",
    "柯尔克孜",
    "土",
    "达斡尔",
    "仫佬",
    "羌",
    "布朗",
    "撒拉",
    "毛南",
    "仡佬",
    "锡伯",
    "阿昌",
    "普米",
    "塔吉克",
    "怒",
    "乌孜别克",
    "俄罗斯",
    "鄂温克",
    "德昂",
    "保安",
    "裕固",
    "京",
    "塔塔尔",
    "独龙",
    "鄂伦春",
    "赫哲",
    "门巴",
    "珞巴",
    "基诺",
]
# GB 3304 codes 01..56 in order, plus 97 and 98.
NATIONS: dict[str, str] = {f"{i:02d}": n for i, n in enumerate(_NATION_NAMES, start=1)}
NATIONS["97"] = "其他"
NATIONS["98"] = "外国血统中国籍人士"


class Gender(enum.Enum):
    """GB/T 2261.1."""

    UNKNOWN = "0"
    MALE = "1"
    FEMALE = "2"
    UNSTATED = "9"


class CardType(enum.Enum):
    RESIDENT = "resident"
    HMT_PERMIT = "hk_macao_taiwan_permit"  # marker 'J' at text byte 248
    FOREIGNER = "foreigner_permanent"  # marker 'I': different layout, not decoded here


class InvalidCardData(ValueError):
    """The text block does not decode to a valid record."""


def id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise InvalidCardData("ID number body must be 17 digits")
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def id_number_valid(value: str) -> bool:
    if len(value) != 18 or not value[:17].isdigit():
        return False
    return id_check_digit(value[:17]) == value[17].upper()


@dataclass(frozen=True, slots=True)
class IdCardRecord:
    name: str
    gender: Gender
    nation_code: str  # empty on HK/Macao/Taiwan permits
    birth_date: dt.date
    address: str
    id_number: str = field(repr=False)
    authority: str
    valid_from: dt.date
    valid_to: dt.date | None  # None = long-term (长期)
    card_type: CardType = CardType.RESIDENT
    permit_number: str = field(default="", repr=False)  # HMT permit only
    issue_count: str = ""  # HMT permit only

    @property
    def long_term(self) -> bool:
        return self.valid_to is None

    @property
    def nation(self) -> str:
        return NATIONS.get(self.nation_code, "")

    @property
    def masked_id(self) -> str:
        return mask_id_number(self.id_number)

    def __repr__(self) -> str:  # the dataclass repr would print the name; keep logs free of it
        return f"IdCardRecord(id={self.masked_id}, type={self.card_type.value})"


def _field(block: bytes, offset: int, length: int) -> str:
    try:
        text = block[offset : offset + length].decode("utf-16-le")
    except UnicodeDecodeError as exc:
        raise InvalidCardData(f"field at {offset} is not UCS-2LE") from exc
    return text.strip(" \x00")


def _date(value: str, what: str) -> dt.date:
    if len(value) != 8 or not value.isdigit():
        raise InvalidCardData(f"{what} is not YYYYMMDD")
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError as exc:
        raise InvalidCardData(f"{what} is not a calendar date") from exc


def card_type_of(block: bytes) -> CardType:
    marker = block[248:250].decode("utf-16-le", errors="replace") if len(block) >= 250 else ""
    if marker == "J":
        return CardType.HMT_PERMIT
    if marker == "I":
        return CardType.FOREIGNER
    return CardType.RESIDENT


def decode_text_block(block: bytes) -> IdCardRecord:
    if len(block) != TEXT_BLOCK_LEN:
        raise InvalidCardData(f"text block is {len(block)} bytes, expected {TEXT_BLOCK_LEN}")
    card_type = card_type_of(block)
    if card_type is CardType.FOREIGNER:
        raise InvalidCardData("foreigner permanent residence card layout is not supported")
    try:
        gender = Gender(_field(block, 30, 2))
    except ValueError as exc:
        raise InvalidCardData("unknown gender code") from exc
    nation_code = _field(block, 32, 4)
    if card_type is CardType.RESIDENT and nation_code not in NATIONS:
        raise InvalidCardData("unknown nation code")
    id_number = _field(block, 122, 36)
    if not id_number_valid(id_number):
        raise InvalidCardData("ID number check digit mismatch")
    valid_to_raw = _field(block, 204, 16)
    valid_to = None if valid_to_raw == LONG_TERM else _date(valid_to_raw, "valid-to date")
    is_hmt = card_type is CardType.HMT_PERMIT
    return IdCardRecord(
        name=_field(block, 0, 30),
        gender=gender,
        nation_code=nation_code if not is_hmt else "",
        birth_date=_date(_field(block, 36, 16), "birth date"),
        address=_field(block, 52, 70),
        id_number=id_number.upper(),
        authority=_field(block, 158, 30),
        valid_from=_date(_field(block, 188, 16), "valid-from date"),
        valid_to=valid_to,
        card_type=card_type,
        permit_number=_field(block, 220, 18) if is_hmt else "",
        issue_count=_field(block, 238, 4) if is_hmt else "",
    )


def _put(block: bytearray, offset: int, length: int, value: str) -> None:
    raw = value.encode("utf-16-le")
    if len(raw) > length:
        raise ValueError(f"value too long for field at {offset}")
    block[offset : offset + length] = raw + " ".encode("utf-16-le") * ((length - len(raw)) // 2)


def encode_text_block(record: IdCardRecord) -> bytes:
    """Inverse of decode_text_block (simulators and tests)."""
    block = bytearray(" ".encode("utf-16-le") * (TEXT_BLOCK_LEN // 2))
    _put(block, 0, 30, record.name)
    _put(block, 30, 2, record.gender.value)
    _put(block, 32, 4, record.nation_code)
    _put(block, 36, 16, record.birth_date.strftime("%Y%m%d"))
    _put(block, 52, 70, record.address)
    _put(block, 122, 36, record.id_number)
    _put(block, 158, 30, record.authority)
    _put(block, 188, 16, record.valid_from.strftime("%Y%m%d"))
    _put(block, 204, 16, LONG_TERM if record.valid_to is None else record.valid_to.strftime("%Y%m%d"))
    if record.card_type is CardType.HMT_PERMIT:
        _put(block, 220, 18, record.permit_number)
        _put(block, 238, 4, record.issue_count)
        _put(block, 248, 2, "J")
    return bytes(block)
