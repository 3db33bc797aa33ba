"""Deferred acks, PUBACK order on the wire, and the bounded retry that forces a redelivery, against a
real Mosquitto (through a TCP proxy that keeps a copy of the bytes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from support.link import publish_with_paho, running, settings
from support.tcp_proxy import TcpProxy, puback_ids, publish_ids

from edge.broker import Broker
from edge.metrics import Metrics
from edge.mqtt import HandlerRejected, Message, MqttLink, TopicRouter


@pytest.fixture
async def proxy(mosquitto: Broker) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy("127.0.0.1", mosquitto.config.port)
    await proxy.start()
    yield proxy
    await proxy.stop()


async def until(predicate: object, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_deferred_acks_wait_for_their_future_leave_in_arrival_order_and_block_no_lane(
    mosquitto: Broker, proxy: TcpProxy, topic_prefix: str
) -> None:
    loop = asyncio.get_running_loop()
    pending: list[tuple[Message, asyncio.Future[None]]] = []

    async def deferring(message: Message) -> asyncio.Future[None]:
        future: asyncio.Future[None] = loop.create_future()
        pending.append((message, future))
        return future

    router = TopicRouter()
    router.add(f"{topic_prefix}/+/telemetry", deferring)
    devices = ("cam-a", "cam-b", "cam-c")
    async with running(MqttLink(settings(proxy.port, f"{topic_prefix}-edge", lanes=3), router)):
        for device in devices:
            await asyncio.to_thread(publish_with_paho, mosquitto.config.port, f"{topic_prefix}/{device}/telemetry",
                                    [f"{device}-{i}".encode() for i in range(10)])
        # Every message reaches its handler although none is acknowledged: no lane waits for an ack.
        await until(lambda: len(pending) == 30)
        await asyncio.sleep(0.3)
        assert puback_ids(proxy.upstream) == [], "nothing acknowledged before its future completed"
        for device in devices:
            assert [m.payload for m, _ in pending if f"/{device}/" in m.topic] == [
                f"{device}-{i}".encode() for i in range(10)], "one device's messages in order"
        for _, future in reversed(pending):  # finish in the reverse of the arrival order
            future.set_result(None)
        await until(lambda: len(puback_ids(proxy.upstream)) == 30)
    assert puback_ids(proxy.upstream) == publish_ids(proxy.downstream)[:30], "PUBACKs in arrival order (§4.6)"


async def test_a_redelivery_of_a_message_waiting_for_its_deferred_ack_waits_for_the_same_future(
    mosquitto: Broker, proxy: TcpProxy, topic_prefix: str
) -> None:
    loop = asyncio.get_running_loop()
    calls: list[Message] = []
    commit: asyncio.Future[None] = loop.create_future()
    metrics = Metrics()

    async def deferring(message: Message) -> asyncio.Future[None]:
        calls.append(message)
        return commit

    router = TopicRouter()
    router.add(f"{topic_prefix}/t", deferring)
    link = MqttLink(settings(proxy.port, f"{topic_prefix}-edge"), router, metrics=metrics)
    async with running(link):
        await asyncio.to_thread(publish_with_paho, mosquitto.config.port, f"{topic_prefix}/t", [b"row"])
        await until(lambda: calls)
        proxy.cut()  # unacknowledged: the broker redelivers it on the resumed session
        await until(lambda: link.connections == 2 and metrics.mqtt_duplicates._value.get() == 1)
        assert len(calls) == 1, "the redelivery is not handled a second time"
        assert puback_ids(proxy.upstream) == []
        commit.set_result(None)
        await until(lambda: puback_ids(proxy.upstream) == publish_ids(proxy.downstream))
    assert len(puback_ids(proxy.upstream)) == 1


class Outage(Exception):
    """What a handler raises while the store it needs is down (the daemon passes StoreError)."""


async def test_a_message_neither_handled_nor_dead_lettered_is_retried_then_redelivered_by_a_reconnect(
    mosquitto: Broker, proxy: TcpProxy, topic_prefix: str
) -> None:
    down = True
    attempts: list[bool] = []  # the message's redelivered flag at each attempt
    handled: list[Message] = []
    dead: list[str] = []
    metrics = Metrics()

    async def needs_store(message: Message) -> None:
        attempts.append(message.redelivered)
        if down:
            raise Outage("disk full")
        handled.append(message)

    async def sink(message: Message, reason: str, detail: str) -> None:
        if down:
            raise Outage("disk full")
        dead.append(reason)

    router = TopicRouter()
    router.add(f"{topic_prefix}/event", needs_store)
    link = MqttLink(settings(proxy.port, f"{topic_prefix}-edge", retry_attempts=3, retry_window_s=30),
                    router, dead_letter=sink, metrics=metrics, retry_on=(Outage,))
    async with running(link):
        await asyncio.to_thread(publish_with_paho, mosquitto.config.port, f"{topic_prefix}/event", [b"sos"])
        # Three attempts in memory, then a reconnect: the broker redelivers it (DUP) and we try again.
        await until(lambda: link.connections >= 2 and any(attempts))
        assert attempts[:3] == [False, False, False]
        forced = metrics.registry.get_sample_value("station_edge_mqtt_forced_redeliveries_total")
        assert forced is not None and forced >= 1
        assert puback_ids(proxy.upstream) == []
        down = False  # the store is back: intake resumes by itself
        await until(lambda: handled)
        await until(lambda: len(puback_ids(proxy.upstream)) == 1)
    assert [m.payload for m in handled] == [b"sos"] and dead == [], "retried, never dead-lettered"


async def test_a_deferred_future_that_fails_dead_letters_the_message_with_its_reason_then_acks_it(
    mosquitto: Broker, proxy: TcpProxy, topic_prefix: str
) -> None:
    loop = asyncio.get_running_loop()
    dead: list[tuple[str, str, bytes]] = []
    futures: list[asyncio.Future[None]] = []

    async def deferring(message: Message) -> asyncio.Future[None]:
        futures.append(loop.create_future())
        return futures[-1]

    async def sink(message: Message, reason: str, detail: str) -> None:
        dead.append((reason, detail, message.payload))

    router = TopicRouter()
    router.add(f"{topic_prefix}/t", deferring)
    async with running(MqttLink(settings(proxy.port, f"{topic_prefix}-edge"), router, dead_letter=sink)):
        await asyncio.to_thread(publish_with_paho, mosquitto.config.port, f"{topic_prefix}/t", [b"a", b"b"])
        await until(lambda: len(futures) == 2)
        futures[0].set_exception(HandlerRejected("schema_violation", "found late"))
        futures[1].set_exception(ZeroDivisionError("bug"))
        await until(lambda: len(puback_ids(proxy.upstream)) == 2)
    assert dead[0] == ("schema_violation", "found late", b"a")
    assert dead[1][0] == "handler_error" and "ZeroDivisionError" in dead[1][1] and dead[1][2] == b"b"
