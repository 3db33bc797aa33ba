"""The central platform's HTTP side, simulated: the case feed.

``build_app(state, *route_adders)`` takes extra route adders: the ingest side (ingest.py: batches, manifests,
receipts, faults) joins the same app that way.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from devices.simulators.central.scenario import Scenario


@dataclass
class CentralState:
    """The feed log: records in arrival order, each with a sequence number (the cursor)."""

    late_after_polls: int = 3
    late_after_s: float | None = None
    log: list[tuple[int, Any]] = field(default_factory=list)
    pending: list[Any] = field(default_factory=list)  # late records, released by polls or time
    polls: int = 0
    not_modified: int = 0
    started: float = field(default_factory=time.monotonic)
    extras: dict[str, Any] = field(default_factory=dict)  # room for the uplink simulator's state
    held: list[Any] = field(default_factory=list)  # the on-time records while paused

    @classmethod
    def from_scenario(cls, scenario: Scenario, *, paused: bool = False, **kwargs: Any) -> CentralState:
        """``paused``: serve an empty feed until ``resume()`` (a driver enrols the officers first, so that
        the station knows every officer the feed names)."""
        state = cls(**kwargs)
        for incident in scenario.incidents:
            if incident.late:
                state.pending.append(incident.record)
            elif paused:
                state.held.append(incident.record)
            else:
                state.publish(incident.record)
        return state

    def resume(self) -> None:
        """Publish the held records; the late ones count their polls and seconds from now."""
        for record in self.held:
            self.publish(record)
        self.held.clear()
        self.polls, self.started = 0, time.monotonic()

    def release_late(self) -> None:
        """Publish the late records now (tests and drivers that decide when "late" is)."""
        for record in self.pending:
            self.publish(record)
        self.pending.clear()

    def publish(self, record: Any) -> int:
        seq = (self.log[-1][0] if self.log else 0) + 1
        self.log.append((seq, record))
        return seq

    def release_due(self) -> None:
        if self.held:  # paused: nothing is late before the day has begun
            return
        elapsed = time.monotonic() - self.started
        due = self.polls > self.late_after_polls or (self.late_after_s is not None and elapsed >= self.late_after_s)
        if due and self.pending:
            for record in self.pending:
                self.publish(record)
            self.pending.clear()

    @property
    def head(self) -> int:
        return self.log[-1][0] if self.log else 0


STATE_KEY = web.AppKey("central_state", CentralState)


def _problem(status: int, detail: str) -> web.Response:
    return web.json_response({"type": "about:blank", "status": status, "detail": detail}, status=status,
                             content_type="application/problem+json")


async def feed(request: web.Request) -> web.Response:
    """GET /api/v1/cases?since=<cursor>&limit=<n> -> {"records", "next", "more"}; ETag on every page."""
    state = request.app[STATE_KEY]
    state.polls += 1
    state.release_due()
    try:
        since = int(request.query.get("since") or 0)
        limit = int(request.query.get("limit") or 500)
    except ValueError:
        return _problem(400, "since and limit must be integers")
    if limit < 1:
        return _problem(400, "limit must be positive")
    page = [(seq, rec) for seq, rec in state.log if seq > since][:limit]
    etag = '"' + hashlib.sha256(f"{since}:{state.head}:{limit}".encode()).hexdigest()[:20] + '"'
    if not page and request.headers.get("If-None-Match") == etag:
        state.not_modified += 1
        return web.Response(status=304, headers={"ETag": etag})
    next_cursor = str(page[-1][0] if page else since)
    more = bool(page) and page[-1][0] < state.head
    body = {"records": [rec for _, rec in page], "next": next_cursor, "more": more}
    return web.json_response(body, headers={"ETag": etag})


async def publish(request: web.Request) -> web.Response:
    """POST /sim/cases: append one record or a list of records, exactly as sent (bad ones too)."""
    state = request.app[STATE_KEY]
    body = json.loads(await request.text())
    records = body if isinstance(body, list) else [body]
    seqs = [state.publish(rec) for rec in records]
    return web.json_response({"published": seqs}, status=201)


async def sim_state(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    return web.json_response({"polls": state.polls, "head": state.head, "pending": len(state.pending),
                              "not_modified": state.not_modified})


def build_app(state: CentralState, *route_adders: Callable[[web.Application], None]) -> web.Application:
    app = web.Application()
    app[STATE_KEY] = state
    app.router.add_get("/api/v1/cases", feed)
    app.router.add_post("/sim/cases", publish)
    app.router.add_get("/sim/state", sim_state)
    for add in route_adders:
        add(app)
    return app
