"""The case feed against the simulated central platform over real HTTP: applying, idempotence, revisions,
ETag, late cases re-linking footage, and a record-level rejection for each kind of bad record."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from support.cases import T0, Clock, footage, record

from devices.simulators.central import CentralState, build_app
from devices.simulators.central.app import STATE_KEY
from devices.simulators.central.app import feed as real_feed
from edge.cases.config import CasesConfig, FeedConfig
from edge.cases.domain import CaseDomain
from edge.cases.feed import CaseFeed
from edge.store import Store, deadletter
from edge.store import cases as rows

H = timedelta(hours=1)
M = timedelta(minutes=1)


@contextlib.asynccontextmanager
async def central(state: CentralState, app: web.Application | None = None) -> AsyncIterator[str]:
    runner = web.AppRunner(app or build_app(state))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def make_feed(domain: CaseDomain, url: str, **feed: Any) -> CaseFeed:
    return CaseFeed(domain, FeedConfig(url=url, **feed))


async def poll(feed: CaseFeed) -> Any:
    async with aiohttp.ClientSession() as session:
        return await feed.poll_once(session)


async def test_records_apply_once_and_the_cursor_survives(domain: CaseDomain, store: Store) -> None:
    state = CentralState(late_after_polls=99)
    state.publish(record("C-0001", ["100001"], T0, T0 + H))
    state.publish(record("C-0002", ["100002"], T0, T0 + H))
    async with central(state) as url:
        feed = make_feed(domain, url, page_limit=1)
        first = await poll(feed)
        assert first.more and [a.change for a in first.result.applied] == ["created"]
        second = await poll(feed)
        assert not second.more and [a.number for a in second.result.applied] == ["C-0002"]
        # Nothing new: an empty page, whose ETag makes the next identical poll a 304.
        assert (await poll(feed)).status == 200
        assert (await poll(feed)).status == 304 and state.not_modified == 1
        # A replay of the same revision (e.g. the platform re-sends its log) changes nothing.
        state.publish(record("C-0001", ["100001"], T0, T0 + H))
        replay = await poll(feed)
        assert [a.change for a in replay.result.applied] == ["unchanged"]
    assert await store.read(lambda q: rows.feed_state(q, feed.key)) is not None
    assert len(await store.read(lambda q: rows.history(q, "C-0001"))) == 1


async def test_out_of_order_revisions_keep_the_newest(domain: CaseDomain, store: Store) -> None:
    state = CentralState()
    state.publish(record("C-0001", ["100001"], T0, T0 + 2 * H, revision=3, title="third"))
    state.publish(record("C-0001", ["100001"], T0, T0 + H, revision=2, title="second, late"))
    async with central(state) as url:
        result = (await poll(make_feed(domain, url))).result
    assert [a.change for a in result.applied] == ["created", "stale"]
    case = await store.read(lambda q: rows.get_case(q, "C-0001"))
    assert case["revision"] == 3 and case["title"] == "third"


BAD: list[tuple[str, Any]] = [
    ("malformed", "not an object"),
    ("malformed", {"number": "C-0100", "revision": 1}),  # no kind
    ("malformed", {**record("c lower", ["100001"], T0, T0 + H)}),
    ("malformed", {**record("C-0101", ["12345"], T0, T0 + H)}),  # officer numbers have 6 digits
    ("malformed", {**record("C-0102", ["100001"], T0, T0 + H), "windows": [{"start": "yesterday"}]}),
    ("unknown_officer", record("C-0103", ["999999"], T0, T0 + H)),
    ("window_end_before_start", record("C-0104", ["100001"], T0 + H, T0)),
    ("window_too_long", record("C-0105", ["100001"], T0, T0 + 73 * H)),
    ("conflicting_revision", record("C-0001", ["100001"], T0, T0 + 2 * H)),  # same revision 1, other window
]


async def test_each_bad_record_is_refused_by_name_and_the_rest_applies(store: Store, clock: Clock) -> None:
    config = CasesConfig(feed=FeedConfig(check_officers=True, officers=["100001", "100002"]))
    domain = CaseDomain(store, config, "ST-1", clock=clock)
    await domain.load()
    state = CentralState()
    state.publish(record("C-0001", ["100001"], T0, T0 + H))
    for _, bad in BAD:
        state.publish(bad)
    state.publish(record("C-0002", ["100002"], T0, T0 + H))
    async with central(state) as url:
        result = (await poll(make_feed(domain, url, max_window_h=72))).result
    assert [a.number for a in result.applied] == ["C-0001", "C-0002"]
    assert [reason for _, reason, _ in result.rejected] == [reason for reason, _ in BAD]
    letters = await store.read(lambda q: deadletter.recent(q, limit=50))
    assert sorted(x["reason"] for x in letters) == sorted(reason for reason, _ in BAD)
    assert {x["source"] for x in letters} == {"feed"}
    by_reason = {x["reason"]: x["detail"] for x in letters}
    assert "999999" in by_reason["unknown_officer"] and "73.0 h" in by_reason["window_too_long"]
    assert "revision 1" in by_reason["conflicting_revision"]


async def test_a_late_case_links_footage_recorded_before_it_was_known(domain: CaseDomain, store: Store) -> None:
    state = CentralState(late_after_polls=1)
    state.pending.append(record("C-LATE", ["100005"], T0, T0 + H))
    await domain.footage_arrived(footage("F-1", "100005", T0 + 10 * M, 20))
    async with central(state) as url:
        feed = make_feed(domain, url)
        assert (await poll(feed)).result.applied == []  # poll 1: not released yet
        late = await poll(feed)
    assert [a.number for a in late.result.applied] == ["C-LATE"]
    [link] = await store.read(lambda q: rows.links_for_footage(q, "F-1"))
    assert link["state"] == "linked" and link["decided_by"] == "machine"
    assert link["provenance"]["rule"] == "score_at_or_above_link_threshold"


async def test_a_changed_window_releases_the_machine_link(domain: CaseDomain, store: Store) -> None:
    await domain.footage_arrived(footage("F-1", "100001", T0 + 10 * M, 20))
    state = CentralState()
    state.publish(record("C-0001", ["100001"], T0, T0 + H))
    async with central(state) as url:
        feed = make_feed(domain, url)
        await poll(feed)
        assert (await store.read(lambda q: rows.get_link(q, "F-1", "C-0001")))["state"] == "linked"
        state.publish(record("C-0001", ["100001"], T0 + 5 * H, T0 + 6 * H, revision=2))
        await poll(feed)
    link = await store.read(lambda q: rows.get_link(q, "F-1", "C-0001"))
    assert link["state"] == "unlinked" and link["provenance"]["rule"] == "no_longer_a_candidate"


async def test_the_service_backs_off_on_errors_and_recovers(domain: CaseDomain, store: Store) -> None:
    calls = {"n": 0}
    state = CentralState()
    state.publish(record("C-0001", ["100001"], T0, T0 + H))

    async def flaky(request: web.Request) -> web.StreamResponse:
        calls["n"] += 1
        if calls["n"] <= 2:
            return web.Response(status=503, text="busy")
        if calls["n"] == 3:
            return web.Response(status=200, text="{not json")
        return await real_feed(request)

    app = web.Application()
    app[STATE_KEY] = state
    app.router.add_get("/api/v1/cases", flaky)
    async with central(state, app) as url:
        feed = make_feed(domain, url, backoff_min_s=0.01, backoff_max_s=0.02, poll_interval_s=0.01)
        task = asyncio.create_task(feed.serve())
        try:
            async with asyncio.timeout(30):
                while await store.read(lambda q: rows.case_version(q, "C-0001")) is None:
                    await asyncio.sleep(0.02)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert feed.failures == 3


@pytest.mark.parametrize("body", [[], {"records": {}, "next": "1"}, {"records": [], "next": 1}])
async def test_a_page_of_the_wrong_shape_is_an_error_not_a_silent_skip(domain: CaseDomain, body: Any) -> None:
    from edge.cases.feed import FeedError

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(body)

    app = web.Application()
    app.router.add_get("/api/v1/cases", handler)
    async with central(CentralState(), app) as url:
        with pytest.raises(FeedError):
            await poll(make_feed(domain, url))

