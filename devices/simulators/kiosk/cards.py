"""Sample ID cards of fictitious people (valid check digits; addresses and authorities are made up)."""

from __future__ import annotations

import datetime as dt

from edge.kiosk.idcard.record import CardType, Gender, IdCardRecord

SAMPLE_CARDS: dict[str, IdCardRecord] = {
    "standard": IdCardRecord(
        name="林晓梅",
        gender=Gender.FEMALE,
        nation_code="01",
        birth_date=dt.date(1990, 1, 1),
        address="福建省厦门市思明区示例路1号",
        id_number="35020319900101123X",
        authority="厦门市公安局思明分局",
        valid_from=dt.date(2015, 6, 1),
        valid_to=dt.date(2035, 6, 1),
    ),
    "long_term": IdCardRecord(
        name="张建国",
        gender=Gender.MALE,
        nation_code="01",
        birth_date=dt.date(1955, 3, 12),
        address="北京市东城区样例胡同8号",
        id_number="110101195503120013",
        authority="北京市公安局东城分局",
        valid_from=dt.date(2012, 5, 1),
        valid_to=None,  # 长期
    ),
    "rare_name": IdCardRecord(
        name="赵㛃",  # U+36C3: a four-byte GB18030 character missing from printer fonts
        gender=Gender.FEMALE,
        nation_code="08",
        birth_date=dt.date(1988, 7, 15),
        address="广西壮族自治区南宁市兴宁区测试街3号",
        id_number="450103198807150021",
        authority="南宁市公安局兴宁分局",
        valid_from=dt.date(2018, 9, 20),
        valid_to=dt.date(2038, 9, 20),
    ),
    "hmt_permit": IdCardRecord(
        name="陈家豪",
        gender=Gender.MALE,
        nation_code="",
        birth_date=dt.date(1992, 3, 4),
        address="广东省深圳市福田区演示大道100号",
        id_number="810000199203040013",
        authority="深圳市公安局",
        valid_from=dt.date(2021, 1, 15),
        valid_to=dt.date(2026, 1, 15),
        card_type=CardType.HMT_PERMIT,
        permit_number="H98765432",
        issue_count="02",
    ),
}


def sample_photo(seed: int = 0) -> bytes:
    """1024 opaque bytes in place of the WLT-compressed photo."""
    return bytes((i * 31 + seed) & 0xFF for i in range(1024))
