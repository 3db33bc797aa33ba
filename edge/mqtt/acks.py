"""PUBACKs in arrival order, pure (no paho, no loop): MQTT 5 §4.6 [MQTT-4.6.0-2].

A receiver must send PUBACKs in the order the PUBLISH packets arrived. Handlers finish out of order:
lanes run in parallel, and telemetry is acknowledged only once its batch commits while an event in
another lane commits on its own. So every QoS 1 message takes a slot on arrival, and finishing a
message only marks its slot; the acks go out from the head of the queue while the head is done.
One ``AckQueue`` belongs to one connection: after a reconnect the broker redelivers whatever it did not
get a PUBACK for, so the old queue is simply dropped.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class AckSlot:
    """One received QoS 1 message waiting for its PUBACK."""

    __slots__ = ("done", "mid", "qos")

    def __init__(self, mid: int, qos: int) -> None:
        self.mid = mid
        self.qos = qos
        self.done = False


class AckQueue:
    def __init__(self, send: Callable[[AckSlot], object]) -> None:
        self._send = send  # sends the acknowledgement of one slot
        self._slots: deque[AckSlot] = deque()
        self.sent = 0

    def expect(self, mid: int, qos: int = 1) -> AckSlot:
        """Take the next slot, in arrival order (call as each PUBLISH is read)."""
        slot = AckSlot(mid, qos)
        self._slots.append(slot)
        return slot

    def done(self, slot: AckSlot) -> int:
        """Mark a message finished; send every ack now due. Returns how many went out."""
        slot.done = True
        slots = self._slots
        sent = 0
        while slots and slots[0].done:
            self._send(slots.popleft())
            sent += 1
        self.sent += sent
        return sent

    @property
    def waiting(self) -> int:
        """Messages received and not yet acknowledged (finished ones held behind an earlier one included)."""
        return len(self._slots)
