"""The case routes on the real daemon: local cases, the review queue, links by hand, custody and outbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from support.cases import T0, footage, iso
from support.tokens import auth

from edge.config import Config, Role
from edge.daemon import Daemon
from edge.store import custody, footage_views

M = timedelta(minutes=1)


@pytest.fixture
async def station(make_config: Callable[..., Config]) -> AsyncIterator[tuple[Daemon, str]]:
    daemon = Daemon(make_config(None, services={"bodycam": False}))
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop))
    await asyncio.wait_for(daemon.ready.wait(), 60)
    assert daemon.http is not None and daemon.cases is not None
    yield daemon, f"http://127.0.0.1:{daemon.http.bound_port}"
    stop.set()
    assert await asyncio.wait_for(run, 60) == 0


async def call(method: str, url: str, role: Role = Role.SUPERVISOR, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s, s.request(method, url, json=body, headers=auth(role)) as r:
        return r.status, await r.json(content_type=None)


def case_body(**extra: Any) -> dict[str, Any]:
    return {"kind": "incident", "title": "Dispute at the market", "officers": ["100001"],
            "windows": [{"start": iso(T0), "end": iso(T0 + 60 * M)}], **extra}


async def outbox_kinds(daemon: Daemon) -> list[str]:
    return [r["kind"] for r in await daemon.store.read(lambda q: q.all("SELECT kind FROM outbox ORDER BY id"))]


async def test_local_case_create_list_get_and_change(station: tuple[Daemon, str]) -> None:
    daemon, base = station
    status, created = await call("POST", f"{base}/api/v1/cases", body=case_body())
    assert status == 201 and created["change"] == "created"
    number = created["case"]["number"]
    assert number.startswith("L-") and created["case"]["source"] == "local"
    assert (await call("POST", f"{base}/api/v1/cases", body=case_body(number=number)))[0] == 409
    status, listing = await call("GET", f"{base}/api/v1/cases?status=open", Role.TECHNICIAN)
    assert status == 200 and [c["number"] for c in listing["items"]] == [number]
    status, changed = await call("PUT", f"{base}/api/v1/cases/{number}",
                                 body=case_body(windows=[{"start": iso(T0), "end": iso(T0 + 90 * M)}]))
    assert status == 200 and changed["case"]["revision"] == 2
    status, case = await call("GET", f"{base}/api/v1/cases/{number}")
    assert [h["change"] for h in case["history"]] == ["created", "updated"]
    assert (await call("GET", f"{base}/api/v1/cases/NOPE-1"))[0] == 404
    assert (await call("POST", f"{base}/api/v1/cases", Role.OFFICER, case_body()))[0] == 403
    assert await outbox_kinds(daemon) == ["case.local", "case.local"]


async def test_bad_local_cases_are_problems_naming_the_rule(station: tuple[Daemon, str]) -> None:
    _, base = station
    status, body = await call("POST", f"{base}/api/v1/cases",
                              body=case_body(windows=[{"start": iso(T0 + 60 * M), "end": iso(T0)}]))
    assert status == 422 and body["reason"] == "window_end_before_start"
    status, body = await call("POST", f"{base}/api/v1/cases", body=case_body(officers=["12"]))
    assert status == 422 and body["reason"] == "malformed" and "officers" in body["detail"]


async def test_review_queue_confirm_and_reject_with_custody_and_outbox(station: tuple[Daemon, str]) -> None:
    daemon, base = station
    assert daemon.cases is not None
    for n, (a, b) in enumerate([(0, 60), (15, 45)]):
        body = case_body(number=f"C-OVL-{n}", windows=[{"start": iso(T0 + a * M), "end": iso(T0 + b * M)}])
        assert (await call("POST", f"{base}/api/v1/cases", body=body))[0] == 201
    changes = await daemon.cases.domain.footage_arrived(footage("1", "100001", T0 + 20 * M, 20))
    assert {(c.case_number, c.state) for c in changes} == {("C-OVL-0", "review"), ("C-OVL-1", "review")}
    status, queue = await call("GET", f"{base}/api/v1/review")
    assert status == 200 and len(queue["items"]) == 2
    assert queue["items"][0]["provenance"]["rule"] == "close_competing_case"
    first, second = (i["id"] for i in queue["items"])
    status, done = await call("POST", f"{base}/api/v1/review/{first}/confirm", body={"reason": "seen on video"})
    assert status == 200 and (done["state"], done["decided_by"]) == ("linked", "person")
    assert (await call("POST", f"{base}/api/v1/review/{first}/confirm"))[0] == 409
    assert (await call("POST", f"{base}/api/v1/review/{second}/reject"))[1]["state"] == "rejected"
    assert (await call("GET", f"{base}/api/v1/review"))[1]["items"] == []
    log = await daemon.store.read(lambda q: custody.history(q, "footage:1"))
    actions = [e.action for e in log]
    assert actions[:2] == ["case.review", "case.review"] and "case.link" in actions and "case.reject" in actions
    assert "footage.view" in actions and log[-1].actor == "supervisor:test-supervisor"
    assert (await outbox_kinds(daemon)).count("case.link") == 4


async def test_a_persons_decision_is_never_overwritten(station: tuple[Daemon, str]) -> None:
    daemon, base = station
    assert daemon.cases is not None
    await call("POST", f"{base}/api/v1/cases", body=case_body(number="C-0001"))
    await daemon.cases.domain.footage_arrived(footage("1", "100001", T0 + 5 * M, 20))
    status, body = await call("DELETE", f"{base}/api/v1/cases/C-0001/links/1")
    assert status == 400 and body["type"].endswith("reason-required")
    status, body = await call("DELETE", f"{base}/api/v1/cases/C-0001/links/1", body={"reason": "wrong officer"})
    assert status == 200 and body["state"] == "unlinked"
    # The machine sees the file again (re-announced) and the case changes: the person's unlink stands.
    await daemon.cases.domain.footage_arrived(footage("1", "100001", T0 + 5 * M, 20))
    await call("PUT", f"{base}/api/v1/cases/C-0001", body=case_body(title="changed"))
    status, links = await call("GET", f"{base}/api/v1/footage/1/cases")
    [link] = links["links"]
    assert (link["state"], link["decided_by"]) == ("unlinked", "person")
    assert [h["state"] for h in link["history"]] == ["linked", "unlinked"]
    assert link["provenance"]["reason"] == "wrong officer" and link["provenance"]["machine"]["rule"]
    # Link by hand needs a reason, and then a file outside any window is linked.
    assert (await call("POST", f"{base}/api/v1/cases/C-0001/links", body={"footage_id": "9"}))[0] == 400
    status, body = await call("POST", f"{base}/api/v1/cases/C-0001/links",
                              body={"footage_id": "9", "reason": "officer brought it in"})
    assert status == 201 and body["decided_by"] == "person"
    assert (await call("POST", f"{base}/api/v1/cases/C-0404/links",
                       body={"footage_id": "9", "reason": "x"}))[0] == 404
    status, case = await call("GET", f"{base}/api/v1/cases/C-0001")
    assert {link["footage_id"]: link["state"] for link in case["links"]} == {"1": "unlinked", "9": "linked"}
    # One footage.view entry for the whole read, naming both files.
    views = await daemon.store.read(lambda q: footage_views.views_of(q, 9))
    assert views[-1].subject == "footage:list" and views[-1].details["ids"] == [1, 9]
    assert views[-1].actor == "supervisor:test-supervisor"
    assert (await daemon.store.read(custody.verify)).ok
