from __future__ import annotations

from datetime import UTC, datetime

from edge.bodycam.payloads import StatusPayload
from edge.bodycam.sequence import SequenceBook, SequenceTracker, Verdict, status_supersedes

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def test_new_duplicate_out_of_order() -> None:
    t = SequenceTracker()
    assert t.classify(10, "a") is Verdict.NEW
    assert t.classify(10, "a") is Verdict.DUPLICATE  # QoS 1 redelivery
    assert t.classify(12, "c") is Verdict.NEW
    assert t.classify(11, "b") is Verdict.OUT_OF_ORDER  # late, never seen
    assert t.classify(11, "b") is Verdict.DUPLICATE
    assert t.classify(13, "a") is Verdict.DUPLICATE  # same msg_id, other seq: a replay
    assert t.classify(5, "e") is Verdict.OUT_OF_ORDER  # a fresh tracker knows everything below
    assert t.high_water == 12


def test_memory_is_bounded_and_old_seqs_are_stale() -> None:
    t = SequenceTracker(window=8)
    for seq in range(1000):
        assert t.classify(seq, f"m{seq}") is Verdict.NEW
    assert len(t) <= 16
    assert t.classify(999, "m999") is Verdict.DUPLICATE
    assert t.classify(995, "m995") is Verdict.DUPLICATE
    assert t.classify(10, "m10") is Verdict.STALE  # forgotten: cannot tell duplicate from late


def test_restart_from_high_water_mark() -> None:
    t = SequenceTracker(high_water=50)
    assert t.classify(50, "whatever") is Verdict.DUPLICATE
    assert t.classify(49, "x") is Verdict.STALE
    assert t.classify(51, "y") is Verdict.NEW
    assert t.classify(51, "y") is Verdict.DUPLICATE


def test_book_persists_and_restores_per_device() -> None:
    book = SequenceBook(window=4)
    book.classify("cam-0001", 3, "a")
    book.classify("cam-0002", 7, "b")
    assert book.high_waters() == {"cam-0001": 3, "cam-0002": 7}
    again = SequenceBook(window=4, high_waters=book.high_waters())
    assert again.classify("cam-0001", 3, "a") is Verdict.DUPLICATE
    assert again.classify("cam-0002", 8, "c") is Verdict.NEW
    again.forget("cam-0002")
    assert again.classify("cam-0002", 1, "d") is Verdict.NEW


def _status(seq: int, state: str, session: int, *, will: bool = False) -> StatusPayload:
    serial = "BW00001" if state == "online" else None
    return StatusPayload(
        v=1, device_id="cam-0001", seq=seq, msg_id=f"m{seq}", ts=NOW, state=state, session=session, will=will,
        serial=serial,
    )  # fmt: skip


def test_late_will_of_the_current_session_applies_old_session_does_not() -> None:
    will_1 = _status(10, "offline", 1, will=True)  # reserved at connect, so older seq than online
    online_1 = _status(11, "online", 1)
    online_2 = _status(30, "online", 2)
    assert status_supersedes(None, online_1)
    assert status_supersedes(online_1, will_1)
    assert not status_supersedes(will_1, online_1)  # offline is final within a session
    assert status_supersedes(will_1, online_2)
    assert not status_supersedes(online_2, will_1)  # a will of an old connection


def test_a_message_remembered_only_once_stored_is_not_a_duplicate_on_its_retry() -> None:
    book = SequenceBook()
    assert book.classify("cam-1", 4, "a", record=False) is Verdict.NEW
    assert book.classify("cam-1", 4, "a", record=False) is Verdict.NEW, "its write failed: the retry is new"
    book.record("cam-1", 4, "a", Verdict.NEW)
    assert book.classify("cam-1", 4, "a") is Verdict.DUPLICATE
    assert book.high_waters() == {"cam-1": 4}
    assert book.classify("cam-1", 2, "b", record=False) is Verdict.OUT_OF_ORDER
    book.record("cam-1", 2, "b", Verdict.OUT_OF_ORDER)
    assert book.classify("cam-1", 2, "b") is Verdict.DUPLICATE
