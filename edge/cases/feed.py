"""Pull client for the central platform's case feed (protocol: docs/cases.md, "Case feed").

``GET {url}/api/v1/cases?since=<cursor>&limit=<n>`` answers ``{"records": [...], "next": "<cursor>",
"more": bool}``. The cursor is opaque and stored with the applied page in one transaction, so a restart
resumes exactly. When a page came back empty its ETag is kept, and the next identical poll sends
``If-None-Match``: an idle feed then costs a 304. Failures back off with full jitter up to
``backoff_max_s``; the failure is logged once and the recovery once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from edge.backoff import jittered_backoff
from edge.cases.config import FeedConfig
from edge.cases.domain import CaseDomain, PageResult
from edge.store import cases as rows
from edge.supervisor import Service

log = logging.getLogger(__name__)

FEED_PATH = "/api/v1/cases"


class FeedError(Exception):
    """The feed answered, but not with a usable page (the page is retried after a backoff)."""


@dataclass(frozen=True, slots=True)
class Poll:
    status: int  # 200 or 304
    more: bool
    result: PageResult | None = None


class CaseFeed(Service):
    name = "cases.feed"

    def __init__(self, domain: CaseDomain, config: FeedConfig, *, rng: random.Random | None = None) -> None:
        self.domain = domain
        self.config = config
        self.key = urlsplit(config.url).netloc or config.url  # one cursor per central platform
        self._rng = rng or random.Random()
        self.polls = 0
        self.failures = 0

    async def serve(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            failing = 0
            while True:
                try:
                    poll = await self.poll_once(session)
                except (aiohttp.ClientError, TimeoutError, FeedError) as exc:
                    failing += 1
                    self.failures += 1
                    delay = self._backoff(failing)
                    if failing == 1:
                        log.warning("case feed %s failing (%s); retrying with backoff", self.key, exc)
                    await asyncio.sleep(delay)
                    continue
                if failing:
                    log.info("case feed %s recovered after %d failed poll(s)", self.key, failing)
                    failing = 0
                if not poll.more:
                    await asyncio.sleep(self.config.poll_interval_s)

    def _backoff(self, attempt: int) -> float:
        c = self.config
        return jittered_backoff(attempt, min_s=c.backoff_min_s, max_s=c.backoff_max_s, rng=self._rng)

    async def poll_once(self, session: aiohttp.ClientSession) -> Poll:
        """Fetch and apply one page."""
        state = await self.domain.store.read(lambda q: rows.feed_state(q, self.key))
        cursor, etag = state if state is not None else ("", None)
        headers = {"Accept": "application/json"}
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        if etag:
            headers["If-None-Match"] = etag
        url = self.config.url.rstrip("/") + FEED_PATH
        params = {"since": cursor, "limit": str(self.config.page_limit)}
        self.polls += 1
        async with session.get(url, params=params, headers=headers) as response:
            if response.status == 304:
                return Poll(304, more=False)
            if response.status != 200:
                raise FeedError(f"HTTP {response.status} from the case feed")
            try:
                body: Any = await response.json(content_type=None)
            except ValueError as exc:
                raise FeedError(f"the case feed page is not JSON: {exc}") from None
            new_etag = response.headers.get("ETag")
        records, next_cursor, more = _page(body)
        # Keep an ETag only for an empty page: re-asking the same cursor is then answered by a 304.
        keep_etag = new_etag if not records and next_cursor == cursor else None
        result = await self.domain.apply_page(records, feed=self.key, channel=f"{url}?since={cursor}",
                                              cursor=next_cursor, etag=keep_etag)
        return Poll(200, more=more and bool(records), result=result)


def _page(body: Any) -> tuple[list[Any], str, bool]:
    if not isinstance(body, dict):
        raise FeedError("the case feed page is not a JSON object")
    records, next_cursor, more = body.get("records"), body.get("next"), body.get("more", False)
    if not isinstance(records, list) or not isinstance(next_cursor, str) or not isinstance(more, bool):
        raise FeedError("the case feed page needs 'records' (list), 'next' (string) and 'more' (boolean)")
    return records, next_cursor, more
