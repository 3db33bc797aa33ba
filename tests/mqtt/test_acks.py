"""PUBACKs leave in arrival order whatever order the messages finish in (MQTT 5 §4.6), sans I/O."""

from __future__ import annotations

from edge.mqtt.acks import AckQueue, AckSlot


def test_acks_leave_in_arrival_order_when_messages_finish_out_of_order() -> None:
    sent: list[int] = []
    queue = AckQueue(lambda slot: sent.append(slot.mid))
    slots = [queue.expect(mid) for mid in (7, 8, 9, 10)]
    assert queue.done(slots[2]) == 0 and queue.done(slots[1]) == 0, "held behind the first"
    assert sent == []
    assert queue.done(slots[0]) == 3
    assert sent == [7, 8, 9]
    assert queue.waiting == 1
    assert queue.done(slots[3]) == 1
    assert sent == [7, 8, 9, 10] and queue.waiting == 0 and queue.sent == 4


def test_a_slot_keeps_its_qos_for_the_acknowledgement() -> None:
    got: list[AckSlot] = []
    queue = AckQueue(got.append)
    queue.done(queue.expect(3, qos=2))
    assert [(s.mid, s.qos) for s in got] == [(3, 2)]
