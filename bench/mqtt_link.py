"""Messages/s received through our MqttLink vs a bare paho subscriber, same broker, same publisher.

The publisher is a separate process (bare paho, QoS 1, 1000 in flight) so that it loads both runs
equally; each subscriber's rate is measured from its first to its last message.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from edge.broker import Broker, BrokerConfig, free_port
from edge.mqtt import LinkSettings, Message, MqttLink, TopicRouter

N = 50_000

PUBLISHER = textwrap.dedent("""
    import sys, paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion
    port, topic, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    c = paho.Client(CallbackAPIVersion.VERSION2)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    infos = [c.publish(f"{topic}/cam-{i % 500:04d}/telemetry", b'{"v":1,"seq":%d,"battery":80}' % i, 1)
             for i in range(n)]
    for info in infos:
        info.wait_for_publish(60)
    c.loop_stop()
    c.disconnect()
""")


def publish(port: int, topic: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", PUBLISHER, str(port), topic, str(N)])


def bare_paho(port: int) -> float:
    done = threading.Event()
    stamps: list[float] = []

    def on_message(client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        stamps.append(time.perf_counter())
        if len(stamps) == N:
            done.set()

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=MQTTProtocolVersion.MQTTv5)
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.subscribe("bare/+/telemetry", qos=1)
    client.loop_start()
    time.sleep(0.5)
    proc = publish(port, "bare")
    done.wait(120)
    proc.wait()
    client.loop_stop()
    client.disconnect()
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


async def ours(port: int) -> float:
    stamps: list[float] = []
    done = asyncio.Event()

    async def handler(message: Message) -> None:
        stamps.append(time.perf_counter())
        if len(stamps) == N:
            done.set()

    router = TopicRouter()
    router.add("ours/+/telemetry", handler)
    link = MqttLink(LinkSettings("127.0.0.1", port, "bench-ours"), router)
    async with link:
        serve = asyncio.create_task(link.serve())
        await link.wait_connected(5)
        proc = publish(port, "ours")
        await asyncio.wait_for(done.wait(), 120)
        await asyncio.to_thread(proc.wait)
        serve.cancel()
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


async def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        async with Broker(BrokerConfig(Path(tmp), free_port())) as broker:
            baseline = await asyncio.to_thread(bare_paho, broker.config.port)
            our_rate = await ours(broker.config.port)
    print(f"mqtt_link_receive_qos1: ours {our_rate:,.0f} msg/s, baseline {baseline:,.0f} msg/s (bare paho), "
          f"ratio {our_rate / baseline:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
