"""Delivery of received messages to handlers: ordered lanes, duplicate memory, dead letters, acks.

No paho here: the link hands in messages with an opaque ``ack`` callback and this module decides when
to call it — only after the handler finished or the message was dead-lettered (at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Protocol

from edge.metrics import Metrics
from edge.mqtt.routing import DeadLetterSink, HandlerRejected, Message, Route, TopicRouter

log = logging.getLogger(__name__)

Ack = Callable[[], None]


class _Counter(Protocol):
    def inc(self, amount: float = 1) -> None: ...

_DEDUPE_MEMORY = 10_000
# A lane worker gives the loop a turn after this many messages in a row: the acks of what it handled
# go out (so the broker's Receive Maximum window refills while we work), other lanes and timers run.
_YIELD_EVERY = 64
_QOS0_QUEUE_LIMIT = 10_000
_TOPIC_CACHE = 20_000  # topics remembered with their route and lane (a station has a few per device)


class _Lane:
    """One ordered queue and its worker's wake-up (a deque: the worker takes a burst without suspending)."""

    __slots__ = ("items", "wake")

    def __init__(self) -> None:
        self.items: deque[tuple[Message, Ack]] = deque()
        self.wake = asyncio.Event()


class Dispatcher:
    def __init__(self, router: TopicRouter, *, lanes: int, dead_letter: DeadLetterSink | None,
                 metrics: Metrics | None) -> None:
        self.router = router
        self._dead_letter = dead_letter
        self._metrics = metrics
        self._lanes = [_Lane() for _ in range(max(1, lanes))]
        # Handled messages by hash((topic, payload)): a redelivery is byte-identical. The hash is 64-bit
        # SipHash keyed per process, so a false match among 10,000 is about 1 in 10^11 and not steerable.
        self._handled: OrderedDict[int, None] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []
        # Per-message lookups done once per topic: topic -> lane index, and topic -> (route, its counter).
        self._lane_of: dict[str, int] = {}
        self._routes: dict[str, tuple[Route | None, _Counter | None]] = {}
        self._routes_version = 0

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._worker(lane), name=f"mqtt.lane[{index}]")
                       for index, lane in enumerate(self._lanes)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def submit(self, message: Message, ack: Ack) -> None:
        """Queue a message (called from the link's read callback; never blocks)."""
        # Same first two levels (e.g. bwc/{device}) -> same lane -> that device's messages stay in order.
        index = self._lane_of.get(message.topic)
        if index is None:
            if len(self._lane_of) >= _TOPIC_CACHE:
                self._lane_of.clear()
            index = self._lane_of[message.topic] = (hash("/".join(message.topic.split("/", 2)[:2]))
                                                   % len(self._lanes))
        lane = self._lanes[index]
        if message.qos == 0 and len(lane.items) >= _QOS0_QUEUE_LIMIT:
            # QoS 1 is bounded by the broker (Receive Maximum); QoS 0 we shed, counted.
            self._count_rejected("overload")
            return
        lane.items.append((message, ack))
        lane.wake.set()

    async def _worker(self, lane: _Lane) -> None:
        items = lane.items
        run = 0
        while True:
            if not items:
                lane.wake.clear()
                await lane.wake.wait()
                run = 0
                continue
            run += 1
            if run % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            message, ack = items.popleft()
            digest = hash((message.topic, message.payload))
            if message.redelivered and digest in self._handled:
                if self._metrics is not None:
                    self._metrics.mqtt_duplicates.inc()
                ack()
                continue
            if await self._dispatch(message):
                self._handled[digest] = None
                if len(self._handled) > _DEDUPE_MEMORY:
                    self._handled.popitem(last=False)
                ack()

    def _route(self, topic: str) -> tuple[Route | None, _Counter | None]:
        """The route for a topic and its messages-in counter child, cached (routes are only ever added)."""
        if self._routes_version != len(self.router.routes) or len(self._routes) >= _TOPIC_CACHE:
            self._routes.clear()
            self._routes_version = len(self.router.routes)
        found = self._routes.get(topic)
        if found is None:
            route = self.router.match(topic)
            counter: _Counter | None = None
            if route is not None and self._metrics is not None:
                counter = self._metrics.mqtt_messages_in.labels(route.name)
            found = self._routes[topic] = (route, counter)
        return found

    async def _dispatch(self, message: Message) -> bool:
        """Handle or dead-letter one message; False if neither succeeded (leave it unacknowledged)."""
        route, counter = self._route(message.topic)
        if route is None:
            return await self._reject(message, "unknown_topic", "no route for this topic")
        if counter is not None:
            counter.inc()
        try:
            await route.handler(message)
        except HandlerRejected as exc:
            return await self._reject(message, exc.reason, exc.detail)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("handler for %s failed on %s", route.name, message.topic)
            return await self._reject(message, "handler_error", f"{type(exc).__name__}: {exc}")
        return True

    async def _reject(self, message: Message, reason: str, detail: str) -> bool:
        self._count_rejected(reason)
        if self._dead_letter is None:
            log.warning("rejected message on %s: %s (%s)", message.topic, reason, detail)
            return True
        try:
            await self._dead_letter(message, reason, detail)
        except Exception:
            # Not acknowledged: the broker redelivers it once we can store it again.
            log.exception("could not dead-letter a message on %s", message.topic)
            return False
        return True

    def _count_rejected(self, reason: str) -> None:
        if self._metrics is not None:
            self._metrics.mqtt_rejected.labels(reason).inc()
