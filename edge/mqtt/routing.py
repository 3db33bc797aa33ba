"""Topic routing, pure: messages, handlers, and the pattern table. No paho here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    received_at: datetime
    redelivered: bool = False


class HandlerRejected(Exception):
    """Raised by a handler to dead-letter a message with a specific, machine-readable reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# A handler returns None (acknowledge now) or a future: the message is acknowledged once it completes,
# while the lane goes on with the next message (telemetry: once its batch has committed). A future that
# fails dead-letters the message like a raising handler.
Deferred = asyncio.Future[None]
Handler = Callable[[Message], Awaitable[Deferred | None]]
DeadLetterSink = Callable[[Message, str, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Route:
    pattern: str
    handler: Handler
    qos: int
    name: str


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT filter matching: '+' is one level, a final '#' any number (including none).

    Wildcards never match a first level starting with '$' (broker topics such as $SYS).
    """
    if topic.startswith("$") and pattern[:1] in ("+", "#"):
        return False
    filters, levels = pattern.split("/"), topic.split("/")
    for index, part in enumerate(filters):
        if part == "#":
            return True
        if index >= len(levels) or (part != "+" and part != levels[index]):
            return False
    return len(filters) == len(levels)


class TopicRouter:
    """Maps subscription patterns to async handlers; the first matching route wins."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, pattern: str, handler: Handler, *, qos: int = 1, name: str = "") -> None:
        if any(r.pattern == pattern for r in self.routes):
            raise ValueError(f"a route for {pattern!r} exists already")
        self.routes.append(Route(pattern, handler, qos, name or pattern))

    def match(self, topic: str) -> Route | None:
        for route in self.routes:
            if topic_matches(route.pattern, topic):
                return route
        return None
