"""The fleet model: deterministic, on-contract, scriptable."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from devices.simulators.bodycam_fleet import BodycamFleet, FaultMode, FleetConfig
from edge.bodycam.payloads import (
    OFFICER_NO_PATTERN,
    SERIAL_PATTERN,
    UNIT_NO_PATTERN,
    Channel,
    Outgoing,
    PayloadRejected,
    RejectReason,
    StatusPayload,
    TimeSync,
    decode,
    encode_command,
)
from edge.bodycam.sequence import SequenceBook, Verdict

START = datetime(2024, 6, 1, 0, 0, tzinfo=UTC)
SKEW = timedelta(hours=1)


def run(fleet: BodycamFleet, hours: float, step_s: float = 10.0) -> list[Outgoing]:
    out: list[Outgoing] = []
    for _ in range(int(hours * 3600 / step_s)):
        out.extend(fleet.step(timedelta(seconds=step_s)))
    return out


@pytest.fixture(scope="module")
def shift() -> tuple[BodycamFleet, list[Outgoing]]:
    fleet = BodycamFleet(12, seed=42, start=START, config=FleetConfig(sos_every_s=3 * 3600))
    return fleet, run(fleet, 8.5, 30.0)


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    def sample(seed: int) -> list[Outgoing]:
        return run(BodycamFleet(4, seed=seed, start=START), 0.5)

    assert sample(7) == sample(7)
    assert sample(7) != sample(8)


def test_roster_follows_ga_t_947() -> None:
    fleet = BodycamFleet(30, seed=1, start=START)
    ids = fleet.cameras
    assert len({c.officer.number for c in ids}) == 30
    for cam in ids:
        assert re.fullmatch(SERIAL_PATTERN, cam.serial)
        assert re.fullmatch(OFFICER_NO_PATTERN, cam.officer.number)
        assert re.fullmatch(UNIT_NO_PATTERN, cam.officer.unit_no)
        assert cam.officer.name
        assert cam.officer.unit_name
        assert cam.shift.end - cam.shift.start > timedelta(hours=7)


def test_a_whole_shift_decodes_cleanly_and_covers_the_contract(shift: tuple[BodycamFleet, list[Outgoing]]) -> None:
    fleet, outs = shift
    kinds: Counter[str] = Counter()
    book = SequenceBook()
    for out in outs:
        # Device clocks drift and jump, and buffered messages arrive late: within an hour of true time.
        msg = decode(out.topic, out.payload, fleet.now, max_skew=timedelta(hours=9))
        payload = msg.payload
        kinds[getattr(payload, "event", None) or getattr(payload, "state", None) or msg.channel.value] += 1
        assert book.classify(msg.device_id, msg.seq, msg.msg_id) is not Verdict.DUPLICATE
    for kind in ("telemetry", "file", "online", "offline", "record_start", "record_stop", "mark_important",
                 "sos", "sos_clear", "case_tag", "docked", "undocked"):  # fmt: skip
        assert kinds[kind] > 0, kind


def test_links_drop_and_return_with_a_will(shift: tuple[BodycamFleet, list[Outgoing]]) -> None:
    fleet, _ = shift
    links = fleet.take_link_changes()
    ups = [link for link in links if link.up]
    assert len(ups) > 12  # boot plus reconnects
    assert any(not link.up and not link.clean for link in links)  # network loss: the will fires
    assert any(not link.up and link.clean for link in links)  # docking
    for link in ups:
        assert link.will is not None
        will = decode(link.will.topic, link.will.payload, fleet.now, max_skew=SKEW).payload
        assert isinstance(will, StatusPayload)
        assert will.will
        assert link.will.retain


def test_forced_sos_offline_and_buffered_replay() -> None:
    fleet = BodycamFleet(2, seed=3, start=START)
    fleet.step(timedelta(seconds=5))
    fleet.take_link_changes()
    fleet.force_sos("cam-0001")
    sos = [decode(o.topic, o.payload, fleet.now, max_skew=SKEW) for o in fleet.step(timedelta(0))]
    assert [getattr(m.payload, "event", None) for m in sos] == ["record_start", "sos"]

    fleet.force_offline("cam-0001")
    assert fleet.step(timedelta(0)) == []  # like messages, link changes surface at the next step
    (down,) = fleet.take_link_changes()
    assert (down.device_id, down.up, down.clean) == ("cam-0001", False, False)
    quiet = fleet.step(timedelta(minutes=2))
    assert all(not o.topic.startswith("bwc/cam-0001/") for o in quiet)  # buffered, not published
    fleet.force_online("cam-0001")
    replay = fleet.step(timedelta(0))
    (up,) = fleet.take_link_changes()
    assert (up.up, up.before) == (True, 0)
    msgs = [decode(o.topic, o.payload, fleet.now, max_skew=SKEW) for o in replay]
    assert [m.seq for m in msgs] == sorted(m.seq for m in msgs)
    assert msgs[-1].channel is Channel.STATUS
    assert len(msgs) > 5


def test_fault_modes_are_rejected_as_designed() -> None:
    fleet = BodycamFleet(2, seed=5, start=START)
    fleet.step(timedelta(seconds=1))
    expected = {
        FaultMode.INVALID_JSON: RejectReason.INVALID_JSON,
        FaultMode.SCHEMA_VIOLATION: RejectReason.SCHEMA_VIOLATION,
        FaultMode.OVERSIZED: RejectReason.OVERSIZED,
        FaultMode.TOPIC_MISMATCH: RejectReason.TOPIC_MISMATCH,
        FaultMode.ABSURD_TIMESTAMP: RejectReason.TIMESTAMP_OUT_OF_RANGE,
    }
    for mode, reason in expected.items():
        (out,) = fleet.inject_fault("cam-0001", mode)
        with pytest.raises(PayloadRejected) as info:
            decode(out.topic, out.payload, fleet.now, max_skew=SKEW)
        assert info.value.reason is reason
    first, again = fleet.inject_fault("cam-0001", FaultMode.DUPLICATE)
    assert first == again
    book = SequenceBook()
    verdicts = [book.classify(m.device_id, m.seq, m.msg_id) for m in (decode(o.topic, o.payload, fleet.now,
                max_skew=SKEW) for o in (first, again))]  # fmt: skip
    assert verdicts == [Verdict.NEW, Verdict.DUPLICATE]


def test_random_faults_only_when_asked() -> None:
    fleet = BodycamFleet(3, seed=9, start=START, config=FleetConfig(fault_rate=0.2))
    reasons: Counter[str] = Counter()
    for out in run(fleet, 0.5):
        try:
            decode(out.topic, out.payload, fleet.now, max_skew=SKEW)
        except PayloadRejected as exc:
            reasons[exc.reason.value] += 1
    assert len(reasons) >= 4


def test_time_sync_resets_the_clock_and_dock_ends_the_shift() -> None:
    fleet = BodycamFleet(1, seed=11, start=START)
    fleet.step(timedelta(seconds=1))
    fleet.force_clock_jump("cam-0001", timedelta(seconds=40))
    cam = fleet.camera("cam-0001")
    assert (cam.device_time() - fleet.now).total_seconds() > 35
    cmd = TimeSync(
        v=1, device_id="cam-0001", seq=1, msg_id="s1", ts=fleet.now, expires_at=fleet.now + timedelta(minutes=1),
        cmd="time_sync", measured_offset_ms=40_000,
    )  # fmt: skip
    out = encode_command(cmd)
    assert fleet.handle_command(out.topic, out.payload)
    assert abs((cam.device_time() - fleet.now).total_seconds()) < 0.5
    assert not fleet.handle_command("bwc/cam-0001/cmd/record_stop", out.payload)  # topic mismatch refused

    fleet.force_dock("cam-0001")
    tail = [decode(o.topic, o.payload, fleet.now, max_skew=SKEW).payload for o in fleet.step(timedelta(0))]
    assert getattr(tail[-2], "event", None) == "docked"
    assert isinstance(tail[-1], StatusPayload)
    assert tail[-1].state == "offline"
    assert not fleet.step(timedelta(hours=1))  # docked: silent
