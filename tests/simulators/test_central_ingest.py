"""The simulated central platform's batch ingest over real HTTP: receipts per item, idempotent resends, station
API keys, every class of bad input with its own problem type, and the faults on demand."""

from __future__ import annotations

import asyncio
import io
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.seaweed import Central, central_ingest

from devices.simulators.central import receipts
from devices.simulators.central.faults import Fault, FaultSpecError, parse_fault

PROBLEM = "urn:central:problem:"


@pytest.fixture
async def central(tmp_path: Path) -> AsyncIterator[Central]:
    async with central_ingest(None, tmp_path / "central", max_items=5) as running:
        yield running


def batch(*keys: str, kind: str = "alert") -> dict[str, Any]:
    return {"items": [{"kind": kind, "dedupe_key": k, "payload": {"n": i, "text": "报警"}} for i, k in enumerate(keys)]}


async def post(central: Central, body: Any, *, key: str | None = None, path: str = "batch",
               headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], Any]:
    sent = {**central.headers, **({"Idempotency-Key": key} if key else {}), **(headers or {})}
    data = io.BytesIO(body if isinstance(body, bytes) else json.dumps(body).encode())
    async with aiohttp.ClientSession() as session, session.post(
            f"{central.sim.url}/api/v1/ingest/{path}", data=data, headers=sent) as answer:
        return answer.status, dict(answer.headers), await answer.json(content_type=None)


async def test_a_batch_gets_a_signed_receipt_per_item_and_a_resend_changes_nothing(central: Central) -> None:
    body = batch("a-1", "a-2", kind="custody_checkpoint")
    status, headers, first = await post(central, body, key="k-1")
    assert status == 200 and "Idempotent-Replayed" not in headers
    assert [(r["index"], r["dedupe_key"], r["status"]) for r in first["receipts"]] == [
        (0, "a-1", "accepted"), (1, "a-2", "accepted")]
    for receipt, item in zip(first["receipts"], body["items"], strict=True):
        assert receipt["payload_sha256"] == receipts.payload_digest(item["payload"])
        assert receipts.verify(central.receipt_key, receipts.ITEM_RECEIPT_V1, receipts.ITEM_FIELDS, receipt)
        assert not receipts.verify(b"other key", receipts.ITEM_RECEIPT_V1, receipts.ITEM_FIELDS, receipt)
    assert central.sim.ingest is not None
    stored = dict(central.sim.ingest.items)
    status, headers, again = await post(central, body, key="k-1")
    assert status == 200 and headers["Idempotent-Replayed"] == "true" and again == first
    assert central.sim.ingest.items == stored  # nothing applied twice


async def test_an_item_already_received_in_another_batch_is_a_duplicate(central: Central) -> None:
    _, _, first = await post(central, batch("d-1"), key="k-a")
    _, _, second = await post(central, batch("d-2", "d-1"), key="k-b")
    assert [r["status"] for r in second["receipts"]] == ["accepted", "duplicate"]
    assert second["receipts"][1]["receipt_id"] == first["receipts"][0]["receipt_id"]


async def test_the_same_key_with_another_body_is_refused(central: Central) -> None:
    await post(central, batch("r-1"), key="k-r")
    status, _, problem = await post(central, batch("r-2"), key="k-r")
    assert status == 422 and problem["type"] == PROBLEM + "idempotency-key-reused"


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", "Basic abc", "Bearer "])
async def test_unknown_or_missing_station_keys_get_401(central: Central, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with aiohttp.ClientSession() as session, session.post(
            f"{central.sim.url}/api/v1/ingest/batch", json=batch("x"),
            headers={"Idempotency-Key": "k", **headers}) as answer:
        assert answer.status == 401 and answer.headers["WWW-Authenticate"] == "Bearer"
        assert (await answer.json(content_type=None))["type"] == PROBLEM + "unauthorized"
    assert central.sim.ingest is not None and not central.sim.ingest.items


@pytest.mark.parametrize(("body", "key", "status", "slug"), [
    (b"{not json", "k", 400, "malformed-json"),
    (b"\xff\xfe", "k", 400, "malformed-json"),
    (batch("x"), None, 400, "idempotency-key-missing"),
    (batch("x"), "bad\tkey" * 40, 422, "idempotency-key-invalid"),
    ([1, 2], "k", 422, "invalid-batch"),
    ({"items": []}, "k", 422, "invalid-batch"),
    (batch("x", kind="launch_codes"), "k", 422, "unknown-kind"),
    ({"items": [{"kind": "alert", "dedupe_key": "x"}]}, "k", 422, "invalid-item"),
    ({"items": [{"kind": "alert", "dedupe_key": "", "payload": {}}]}, "k", 422, "invalid-item"),
    ({"items": [{"kind": "alert", "dedupe_key": "x", "payload": [1]}]}, "k", 422, "invalid-item"),
    (batch("x", "x"), "k", 422, "duplicate-item"),
    (batch(*[f"o-{i}" for i in range(6)]), "k", 413, "batch-too-large"),
    (b'{"items": "' + b"a" * (1 << 20) + b'"}', "k", 413, "body-too-large"),
])
async def test_bad_batches_get_specific_problems(central: Central, body: Any, key: str | None, status: int,
                                                 slug: str) -> None:
    got, headers, problem = await post(central, body, key=key)
    assert (got, problem["type"], problem["status"]) == (status, PROBLEM + slug, status)
    assert headers["Content-Type"].startswith("application/problem+json")
    assert central.sim.ingest is not None and not central.sim.ingest.items
    # ... and the simulator keeps serving.
    assert (await post(central, batch(f"ok-{uuid.uuid4().hex}"), key=uuid.uuid4().hex))[0] == 200


@pytest.mark.parametrize(("kind", "status", "slug"), [
    ("unavailable", 503, "unavailable"), ("insufficient-storage", 507, "insufficient-storage"),
    ("error", 500, "internal-error")])
async def test_status_faults_answer_then_clear(central: Central, kind: str, status: int, slug: str) -> None:
    assert central.sim.ingest is not None
    central.sim.ingest.arm(Fault(kind, count=2, retry_after=7))  # type: ignore[arg-type]
    for _ in range(2):
        got, headers, problem = await post(central, batch("f-1"), key="k-f")
        assert (got, problem["type"]) == (status, PROBLEM + slug)
        if kind == "unavailable":
            assert headers["Retry-After"] == "7"
    assert not central.sim.ingest.items  # a refused batch took no effect
    got, _, answer = await post(central, batch("f-1"), key="k-f")
    assert got == 200 and answer["receipts"][0]["status"] == "accepted"


async def test_a_reset_mid_answer_took_effect_and_the_resend_replays(central: Central) -> None:
    assert central.sim.ingest is not None
    central.sim.ingest.arm(Fault("reset"))
    with pytest.raises(aiohttp.ClientError):
        await post(central, batch("z-1", "z-2"), key="k-z")
    assert set(central.sim.ingest.items) == {("ST-1", "z-1"), ("ST-1", "z-2")}
    status, headers, answer = await post(central, batch("z-1", "z-2"), key="k-z")
    assert status == 200 and headers["Idempotent-Replayed"] == "true"
    assert [r["status"] for r in answer["receipts"]] == ["accepted", "accepted"]
    assert central.sim.ingest.plan.history == ["reset"]


async def test_a_slow_answer_comes_late_but_whole(central: Central) -> None:
    assert central.sim.ingest is not None
    central.sim.ingest.arm(Fault("slow", delay=1.0, route="batch"))
    began = time.monotonic()
    status, _, answer = await post(central, batch("s-1"), key="k-s")
    assert status == 200 and answer["receipts"][0]["status"] == "accepted"
    assert time.monotonic() - began >= 1.0  # a lower bound only: never a tight ceiling


async def test_down_refuses_connections_then_comes_back_on_the_same_port(central: Central) -> None:
    """Armed through the admin endpoint, as a technician would; ended early from Python."""
    async with aiohttp.ClientSession() as session, session.post(
            f"{central.sim.url}/sim/ingest/faults", json={"fault": "down", "seconds": 3600}) as armed:
        assert armed.status == 201
    deadline = time.monotonic() + 30
    while True:
        try:
            await post(central, batch("dn-1"), key="k-dn")
        except aiohttp.ClientConnectionError:
            break
        assert time.monotonic() < deadline, "the platform never went down"
        await asyncio.sleep(0.05)
    assert central.sim.listener is not None and central.sim.listener.down
    await central.sim.come_up()
    status, _, _ = await post(central, batch("dn-1"), key="k-dn")
    assert status == 200


async def test_a_timed_outage_ends_by_itself(central: Central) -> None:
    central.sim.go_down(1.0)
    assert central.sim.listener is not None
    deadline = time.monotonic() + 60
    while central.sim.listener.outages == 0 or central.sim.listener.down:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert (await post(central, batch("t-1"), key="k-t"))[0] == 200


async def test_the_admin_endpoint_lists_arms_refuses_and_clears(central: Central) -> None:
    url = f"{central.sim.url}/sim/ingest/faults"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"fault": "unavailable", "count": 0, "route": "manifest"}) as answer:
            assert answer.status == 201
        for bad in ({"fault": "meteor"}, {"fault": "slow", "delay": -1}, {"fault": "error", "colour": 1}, [1]):
            async with session.post(url, json=bad) as answer:
                assert answer.status == 422
                assert (await answer.json(content_type=None))["type"] == PROBLEM + "invalid-fault"
        async with session.get(url) as answer:
            listed = await answer.json()
        assert [f["kind"] for f in listed["armed"]] == ["unavailable"]
        assert (await post(central, batch("m-1"), key="k-m"))[0] == 200  # a manifest fault spares batches
        async with session.delete(url) as answer:
            assert answer.status == 200
        async with session.get(url) as answer:
            assert (await answer.json())["armed"] == []


def test_fault_specs_from_the_command_line() -> None:
    fault = parse_fault("unavailable:3,retry_after=10,route=batch")
    assert (fault.kind, fault.count, fault.retry_after, fault.route) == ("unavailable", 3, 10, "batch")
    assert parse_fault("down,seconds=60").seconds == 60.0
    assert parse_fault("slow:0,delay=2.5").count == 0
    for bad in ("meteor", "slow,delay", "slow,delay=x", "error,colour=red", "error:-1", "reset,route=moon"):
        with pytest.raises(FaultSpecError):
            parse_fault(bad)


async def test_a_garbage_answer_took_effect_and_the_resend_replays(central: Central) -> None:
    assert central.sim.ingest is not None
    central.sim.ingest.arm(Fault("garbage"))
    async with aiohttp.ClientSession() as session, session.post(
            f"{central.sim.url}/api/v1/ingest/batch", json=batch("g-1"),
            headers={**central.headers, "Idempotency-Key": "k-g"}) as answer:
        assert answer.status == 200 and answer.content_type == "text/html"
        with pytest.raises(json.JSONDecodeError):
            json.loads(await answer.text())
    status, headers, replay = await post(central, batch("g-1"), key="k-g")
    assert status == 200 and headers["Idempotent-Replayed"] == "true"
    assert [r["dedupe_key"] for r in replay["receipts"]] == ["g-1"]


async def test_a_foreign_receipt_names_an_item_never_sent(central: Central) -> None:
    assert central.sim.ingest is not None
    central.sim.ingest.arm(Fault("foreign-receipt"))
    _, _, answer = await post(central, batch("h-1"), key="k-h")
    keys = [r["dedupe_key"] for r in answer["receipts"]]
    assert keys[0] == "h-1" and len(keys) == 2 and keys[1].startswith("never-sent-")
    assert receipts.verify(central.receipt_key, receipts.ITEM_RECEIPT_V1, receipts.ITEM_FIELDS, answer["receipts"][1])
    assert set(central.sim.ingest.items) == {("ST-1", "h-1")}  # the platform itself recorded only what came
