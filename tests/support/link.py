"""MQTT link test helpers: settings for a test link, a running link, an independent paho publisher."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import paho.mqtt.client as paho_client
from paho.mqtt.enums import CallbackAPIVersion

from edge.mqtt import LinkSettings, MqttLink


def settings(port: int, client_id: str, **extra: object) -> LinkSettings:
    return LinkSettings("127.0.0.1", port, client_id, reconnect_min_s=0.05, reconnect_max_s=0.2, **extra)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running(link: MqttLink) -> AsyncIterator[MqttLink]:
    async with link:
        task = asyncio.create_task(link.serve())
        try:
            await link.wait_connected(30)
            yield link
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def publish_with_paho(port: int, topic: str, payloads: list[bytes], qos: int = 1) -> None:
    """An independent publisher: bare paho, its own thread loop, waits for every PUBACK."""
    client = paho_client.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        infos = [client.publish(topic, p, qos) for p in payloads]
        for info in infos:
            info.wait_for_publish(30)
    finally:
        client.loop_stop()
        client.disconnect()
