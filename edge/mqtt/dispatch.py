"""Delivery of received messages to handlers: ordered lanes, duplicate memory, dead letters, acks.

No paho here: the link hands in messages with an opaque ``ack`` callback and this module decides when
to call it — only after the handler finished or the message was dead-lettered (at-least-once). A
handler may instead return a future (``Deferred``): the lane goes on with the next message at once and
the ack waits for the future (telemetry: acknowledged once its batch has committed).

A message that can be neither handled nor dead-lettered — its handler raised one of ``retry_on`` (the
daemon passes StoreError: the message is fine, the store is not), or the dead-letter write failed — is
retried in its lane with jittered backoff, within ``retry_attempts`` / ``retry_window_s``. Past that
bound the dispatcher gives up on every message it holds unacknowledged and not yet handled, and asks the
link to reconnect: the broker then redelivers them (persistent session). No Receive Maximum slot is held
for good, and memory stays bounded however long the store is down.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from functools import partial
from typing import Protocol

from edge.backoff import jittered_backoff
from edge.metrics import Metrics
from edge.mqtt.routing import DeadLetterSink, HandlerRejected, Message, Route, TopicRouter

log = logging.getLogger(__name__)

Ack = Callable[[], None]
GiveUp = Callable[[], None]


class _Counter(Protocol):
    def inc(self, amount: float = 1) -> None: ...


_DEDUPE_MEMORY = 10_000
# A lane worker gives the loop a turn after this many messages in a row: the acks of what it handled
# go out (so the broker's Receive Maximum window refills while we work), other lanes and timers run.
_YIELD_EVERY = 64
_QOS0_QUEUE_LIMIT = 10_000
_TOPIC_CACHE = 20_000  # topics remembered with their route and lane (a station has a few per device)
_BACKOFF_MIN_S = 0.05
_BACKOFF_MAX_S = 2.0


class _Failed:
    """Neither handled nor dead-lettered."""


_FAILED = _Failed()


class _Lane:
    """One ordered queue and its worker's wake-up (a deque: the worker takes a burst without suspending)."""

    __slots__ = ("items", "wake")

    def __init__(self) -> None:
        self.items: deque[tuple[Message, Ack, int]] = deque()
        self.wake = asyncio.Event()


class Dispatcher:
    def __init__(self, router: TopicRouter, *, lanes: int, dead_letter: DeadLetterSink | None,
                 metrics: Metrics | None, retry_attempts: int = 8, retry_window_s: float = 15.0,
                 retry_on: tuple[type[BaseException], ...] = (), on_give_up: GiveUp | None = None,
                 rng: random.Random | None = None) -> None:
        self.router = router
        self._dead_letter = dead_letter
        self._metrics = metrics
        self._retry_attempts = max(1, retry_attempts)
        self._retry_window_s = retry_window_s
        self._retry_on = retry_on  # handler exceptions that mean "not now" (store outage), not "bad message"
        self._on_give_up = on_give_up
        self._rng = rng or random.Random()
        self._lanes = [_Lane() for _ in range(max(1, lanes))]
        # Handled messages by hash((topic, payload)): a redelivery is byte-identical. The hash is 64-bit
        # SipHash keyed per process, so a false match among 10,000 is about 1 in 10^11 and not steerable.
        self._handled: OrderedDict[int, None] = OrderedDict()
        # Handled, waiting for their deferred ack (a batch commit): a redelivery waits for the same future.
        self._deferred: dict[int, asyncio.Future[None]] = {}
        # The messages waiting on each future: one done-callback per batch, not one per message (a batch
        # of hundreds would otherwise schedule hundreds of loop callbacks when it commits).
        self._waiting: dict[asyncio.Future[None], list[tuple[Message, int, Ack]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        # Per-message lookups done once per topic: topic -> lane index, and topic -> (route, its counter).
        self._lane_of: dict[str, int] = {}
        self._routes: dict[str, tuple[Route | None, _Counter | None]] = {}
        self._routes_version = 0
        # Bumped when we give up: what was queued before is dropped (the broker redelivers it).
        self._epoch = 0
        self.retrying = 0  # lanes retrying a message now
        self.give_ups = 0

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
        lane.items.append((message, ack, self._epoch))
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
            message, ack, epoch = items.popleft()
            if epoch != self._epoch:
                continue  # given up on: the broker redelivers it on the new connection
            digest = hash((message.topic, message.payload))
            if message.redelivered and self._redelivery(digest, ack):
                continue
            outcome = await self._dispatch(message)
            if outcome is _FAILED:
                outcome = await self._retry(message, epoch)
            if outcome is None:
                self._remember(digest)
                ack()
            elif isinstance(outcome, asyncio.Future):
                self._deferred[digest] = outcome
                waiting = self._waiting.get(outcome)
                if waiting is None:
                    waiting = self._waiting[outcome] = []
                    outcome.add_done_callback(self._settled)
                waiting.append((message, digest, ack))

    def _redelivery(self, digest: int, ack: Ack) -> bool:
        """A DUP copy of a message handled already (ack it) or waiting for its deferred ack (chain it)."""
        if digest in self._handled:
            self._count_duplicate()
            ack()
            return True
        deferred = self._deferred.get(digest)
        if deferred is None:
            return False
        self._count_duplicate()
        deferred.add_done_callback(partial(_ack_on_success, ack))
        return True

    def _remember(self, digest: int) -> None:
        self._handled[digest] = None
        if len(self._handled) > _DEDUPE_MEMORY:
            self._handled.popitem(last=False)

    def _settled(self, future: asyncio.Future[None]) -> None:
        waiting = self._waiting.pop(future, [])
        deferred = self._deferred
        for _, digest, _ in waiting:
            if deferred.get(digest) is future:
                del deferred[digest]
        if future.cancelled():
            return  # shutting down: not acknowledged, the broker redelivers after the restart
        error = future.exception()
        if error is None:
            for _, digest, ack in waiting:
                self._remember(digest)
                ack()
            return
        # The deferred work failed for good (not a store outage: the batcher retries those itself).
        for message, _, ack in waiting:
            task = asyncio.create_task(self._reject_deferred(message, error, ack), name="mqtt.deferred_reject")
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _reject_deferred(self, message: Message, error: BaseException, ack: Ack) -> None:
        if isinstance(error, HandlerRejected):
            outcome = await self._reject(message, error.reason, error.detail)
        else:
            log.error("deferred handling failed on %s: %s", message.topic, error)
            outcome = await self._reject(message, "handler_error", f"{type(error).__name__}: {error}")
        if outcome is None:
            ack()
        else:
            self._give_up(message)

    async def _retry(self, message: Message, epoch: int) -> asyncio.Future[None] | _Failed | None:
        """After a first failed attempt: retry with backoff within the bound; _FAILED once given up."""
        started = time.monotonic()
        attempt = 1
        self.retrying += 1
        try:
            while True:
                if attempt >= self._retry_attempts or time.monotonic() - started >= self._retry_window_s:
                    self._give_up(message)
                    return _FAILED
                await asyncio.sleep(jittered_backoff(attempt + 1, min_s=_BACKOFF_MIN_S, max_s=_BACKOFF_MAX_S,
                                                     rng=self._rng))
                if epoch != self._epoch:
                    return _FAILED  # another lane gave up meanwhile: this one is redelivered too
                attempt += 1
                outcome = await self._dispatch(message)
                if outcome is not _FAILED:
                    log.info("message on %s handled after %d attempts", message.topic, attempt)
                    return outcome
        finally:
            self.retrying -= 1

    def _give_up(self, message: Message) -> None:
        """Drop what is held unhandled and have the link reconnect, so the broker redelivers it."""
        self._epoch += 1
        self.give_ups += 1
        held = sum(len(lane.items) for lane in self._lanes)
        for lane in self._lanes:
            lane.items.clear()
        log.error("could not handle or dead-letter a message on %s within %d attempts / %.0f s; "
                  "reconnecting so the broker redelivers it and %d more", message.topic, self._retry_attempts,
                  self._retry_window_s, held)
        if self._on_give_up is not None:
            self._on_give_up()

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

    async def _dispatch(self, message: Message) -> asyncio.Future[None] | _Failed | None:
        """Handle or dead-letter one message once: None when done, a future to await before the ack,
        _FAILED if neither worked (nothing acknowledged)."""
        route, counter = self._route(message.topic)
        if route is None:
            return await self._reject(message, "unknown_topic", "no route for this topic")
        if counter is not None:
            counter.inc()
        try:
            deferred = await route.handler(message)
        except HandlerRejected as exc:
            return await self._reject(message, exc.reason, exc.detail)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, self._retry_on):
                log.warning("handler for %s could not finish %s: %s", route.name, message.topic, exc)
                return _FAILED  # retried: the message is fine, what it needs (the store) is not
            log.exception("handler for %s failed on %s", route.name, message.topic)
            return await self._reject(message, "handler_error", f"{type(exc).__name__}: {exc}")
        return deferred if isinstance(deferred, asyncio.Future) else None

    async def _reject(self, message: Message, reason: str, detail: str) -> _Failed | None:
        self._count_rejected(reason)
        if self._dead_letter is None:
            log.warning("rejected message on %s: %s (%s)", message.topic, reason, detail)
            return None
        try:
            await self._dead_letter(message, reason, detail)
        except Exception as exc:  # noqa: BLE001 - retried, then redelivered by the broker
            log.warning("could not dead-letter a message on %s (%s): %s", message.topic, reason, exc)
            return _FAILED
        return None

    def _count_rejected(self, reason: str) -> None:
        if self._metrics is not None:
            self._metrics.mqtt_rejected.labels(reason).inc()

    def _count_duplicate(self) -> None:
        if self._metrics is not None:
            self._metrics.mqtt_duplicates.inc()


def _ack_on_success(ack: Ack, future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is None:
        ack()
