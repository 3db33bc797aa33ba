"""Body-camera telemetry end to end (received, validated, stored) vs a bare paho subscriber, same broker.

Throughput is the *subscriber's* capacity, not the publishers': both subscribers first connect once
with a persistent session (clean_start off, session expiry) and go away; publishers then load the
broker with ``BENCH_DRAIN`` contract-valid telemetry messages from 500 enrolled cameras, which the
broker queues for each session; each subscriber then reconnects and drains its queue alone. Ours: from
the first message received by the link to the commit of the last telemetry row; baseline: a bare paho
subscriber (MQTT 5, QoS 1, same Receive Maximum, no work) from its first to its last message. The
publishers are finished before either drain starts, so they cost neither anything. This runs for
``BENCH_ROUNDS`` rounds, ours and the baseline alternating, and reports the medians: a shared 2-core
machine drifts in speed by tens of per cent within a minute, and alternation keeps that drift out of
the ratio.

Latency and CPU come from a live phase: 500 cameras at 1 msg/s each for ``BENCH_LIVE_S`` seconds, then
a burst (every camera flushes 10 buffered messages at once, as after a network outage), with the bare
subscriber listening at the same time. Latency is the camera's timestamp to commit of the row (ours)
or to receipt (baseline), same clock.

Prints ``name: ours X, baseline Y, ratio Z`` lines (for latency and CPU a ratio above 1 means ours is
slower / costlier) and, as a check of the clock-drift hysteresis, the drift alerts raised in each phase.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from edge.bodycam.batcher import TelemetryBatcher
from edge.broker import Broker, BrokerConfig, free_port
from edge.config import parse
from edge.daemon import Daemon
from edge.store import Store, devices

CAMERAS = 500
DRAIN = int(os.environ.get("BENCH_DRAIN", "50000"))  # per round
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
LIVE_S = int(os.environ.get("BENCH_LIVE_S", "10"))
BURST = 10
PUBLISHERS = 3
RECEIVE_MAXIMUM = 1000  # ours: LinkSettings default (mqtt.receive_maximum)

PUBLISHER = textwrap.dedent("""
    import sys, time, datetime, paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion
    port, first, cams, n, seq0, rate = (int(a) for a in sys.argv[1:7])
    c = paho.Client(CallbackAPIVersion.VERSION2)
    c.max_inflight_messages_set(1000)
    c.connect("127.0.0.1", port)
    c.loop_start()
    def body(d, seq, ts):
        return ('{"v":1,"device_id":"cam-%04d","seq":%d,"msg_id":"m%d-%d","ts":"%s","gps":{"lat":22.54,'
                '"lon":114.05,"accuracy_m":5.0,"fix_at":"%s"},"battery_pct":80,"storage_free_mb":30000,'
                '"recording":true,"signal_dbm":-90}' % (d, seq, d, seq, ts, ts)).encode()
    infos = []
    start = time.monotonic()
    for i in range(n):
        d = first + i % cams
        seq = seq0 + i // cams
        if rate and i % cams == 0:
            time.sleep(max(0.0, start + (i // cams) / rate - time.monotonic()))
        ts = datetime.datetime.now(datetime.timezone.utc).isoformat()
        infos.append(c.publish("bwc/cam-%04d/telemetry" % d, body(d, seq, ts), 1))
        if len(infos) >= 1000:
            infos[0].wait_for_publish(60); infos = infos[500:]
    for info in infos:
        info.wait_for_publish(60)
    c.loop_stop(); c.disconnect()
""")

# The bare subscriber, in its own process so that its CPU is its own. Modes:
#   register: connect with a persistent session, subscribe, disconnect (the broker queues from now on);
#   drain N:  reconnect to that session, receive N messages, report first/last receipt and CPU;
#   live:     fresh session, receive until stdin closes, report per-message latency (ts -> receipt) and CPU.
BARE = textwrap.dedent("""
    import json, resource, sys, threading, time, datetime
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    port, mode, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    live = mode == "live"
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare-live" if live else "bench-bare",
                    protocol=MQTTProtocolVersion.MQTTv5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0 if live else 3600
    props.ReceiveMaximum = RECEIVE_MAXIMUM
    got, done, seen = [], threading.Event(), [0, 0.0, 0.0]
    def on_message(client, userdata, msg):
        now = time.time()
        if live:
            got.append((now, msg.payload))
            return
        if seen[0] == 0:
            seen[1] = now
        seen[0] += 1
        seen[2] = now
        if seen[0] >= n:
            done.set()
    c.on_message = on_message
    c.connect("127.0.0.1", port, clean_start=live, properties=props)
    c.loop_start()
    if mode == "register":
        c.subscribe("bwc/+/telemetry", qos=1)
        time.sleep(1.0)
        print(json.dumps({"ok": True}), flush=True)
    elif mode == "drain":
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        done.wait(600)
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
        print(json.dumps({"count": seen[0], "first": seen[1], "last": seen[2], "cpu_s": cpu}), flush=True)
    else:
        c.subscribe("bwc/+/telemetry", qos=1)
        time.sleep(0.5)
        print(json.dumps({"ready": True}), flush=True)
        cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.time()
        sys.stdin.read()
        cpu1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.time()
        lat = []
        for at, payload in got:
            ts = json.loads(payload)["ts"]
            lat.append(at - datetime.datetime.fromisoformat(ts).timestamp())
        cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
        print(json.dumps({"latencies": lat, "cpu_cores": cpu / (t1 - t0)}), flush=True)
    c.loop_stop(); c.disconnect()
""").replace("RECEIVE_MAXIMUM", str(RECEIVE_MAXIMUM))


def publishers(port: int, total: int, seq0: int, rate: int = 0) -> list[subprocess.Popen[bytes]]:
    per = CAMERAS // PUBLISHERS
    procs = []
    for k in range(PUBLISHERS):
        cams = per if k < PUBLISHERS - 1 else CAMERAS - per * k
        n = total * cams // CAMERAS
        procs.append(subprocess.Popen([sys.executable, "-c", PUBLISHER, str(port), str(k * per + 1), str(cams),
                                       str(n), str(seq0), str(rate)]))
    return procs


def expected(total: int) -> int:
    per = CAMERAS // PUBLISHERS
    return sum(total * (per if k < PUBLISHERS - 1 else CAMERAS - per * k) // CAMERAS for k in range(PUBLISHERS))


async def publish(port: int, total: int, seq0: int, rate: int = 0) -> None:
    procs = publishers(port, total, seq0, rate)
    codes = await asyncio.gather(*(asyncio.to_thread(p.wait) for p in procs))
    assert not any(codes), f"a publisher failed: {codes}"


def bare(port: int, mode: str, n: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", BARE, str(port), mode, str(n)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


async def bare_result(proc: subprocess.Popen[str], *, close_stdin: bool = False) -> dict[str, Any]:
    if close_stdin:
        assert proc.stdin is not None
        proc.stdin.close()
    assert proc.stdout is not None
    line = await asyncio.to_thread(proc.stdout.readline)
    await asyncio.to_thread(proc.wait)
    result: dict[str, Any] = json.loads(line)
    return result


class Probe:
    """Collects each flushed batch: rows (device_ts at index 3, epoch µs), link receipt and commit (epoch s)."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[tuple[Any, ...]], list[float], float]] = []
        self.rows = 0

    def __call__(self, rows: list[tuple[Any, ...]], received: list[float], done: float) -> None:
        self.batches.append((rows, received, done))
        self.rows += len(rows)

    def clear(self) -> None:
        self.batches.clear()
        self.rows = 0

    async def wait(self, n: int, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while self.rows < n:  # noqa: ASYNC110 - polling a counter the batcher's callback bumps
                await asyncio.sleep(0.02)

    def latencies(self) -> list[float]:
        return [done - row[3] / 1e6 for rows, _, done in self.batches for row in rows]

    def receipt_to_commit(self) -> list[float]:
        """Link receipt to commit of each row: how long a message waits for its acknowledgement."""
        return [done - r for _, received, done in self.batches for r in received]

    def span(self) -> float:
        first = min(r for _, received, _ in self.batches for r in received)
        return max(done for _, _, done in self.batches) - first


def config(port: int, data: Path) -> Any:
    return parse({"station": {"id": "BENCH", "data_dir": str(data)}, "mqtt": {"url": f"mqtt://127.0.0.1:{port}"},
                  "services": {"http": False}, "logging": {"level": "warning"}})


async def enrol(data: Path, port: int) -> None:
    store = Store(config(port, data).database_path)
    await store.open()

    def add(tx):  # type: ignore[no-untyped-def]
        for i in range(1, CAMERAS + 1):
            devices.add(tx, device_id=f"cam-{i:04d}", serial=f"BW{i:05d}", model="bench", secret_hash="x")

    await store.write(add)
    await store.close()


async def start_daemon(port: int, data: Path, probe: Probe) -> tuple[Daemon, asyncio.Event, asyncio.Task[int]]:
    TelemetryBatcher.latency_probe = probe
    daemon = Daemon(config(port, data))
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop))
    await asyncio.wait_for(daemon.ready.wait(), 10)
    return daemon, stop, run


def drift_alerts(daemon: Daemon) -> int:
    assert daemon.bodycam is not None
    return sum(1 for d in daemon.bodycam.registry.devices.values()
               if any(k.startswith("bodycam.clock_drift:") for k in d.raised))


async def bench(port: int, data: Path) -> dict[str, Any]:
    await enrol(data, port)
    probe = Probe()
    out: dict[str, Any] = {}

    # -- live phase: 1 msg/s per camera, then a burst; both subscribers listening -----------------
    daemon, stop, run = await start_daemon(port, data, probe)
    assert daemon.link is not None
    await daemon.link.wait_connected(5)
    live = bare(port, "live")
    assert live.stdout is not None
    await asyncio.to_thread(live.stdout.readline)
    cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    await publish(port, CAMERAS * LIVE_S, 1, rate=1)
    await publish(port, CAMERAS * BURST, 100)
    n_live = expected(CAMERAS * LIVE_S) + expected(CAMERAS * BURST)
    await probe.wait(n_live, 60)
    cpu1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    base_live = await bare_result(live, close_stdin=True)
    out["lat_ours"], out["lat_base"] = probe.latencies(), base_live["latencies"]
    out["commit_live"] = probe.receipt_to_commit()
    out["cpu_live_ours"] = (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) / (t1 - t0)
    out["cpu_live_base"] = base_live["cpu_cores"]
    out["drift_live"] = drift_alerts(daemon)
    probe.clear()

    # -- drain phase: pre-load both persistent sessions while their subscribers are away ------------
    register = bare(port, "register")
    await bare_result(register)
    stop.set()  # our session persists (clean_start off, session expiry) while the daemon is down
    assert await run == 0
    n = expected(DRAIN)
    rounds: list[dict[str, float]] = []
    publish_s = 0.0
    for k in range(ROUNDS):
        t = time.perf_counter()
        await publish(port, DRAIN, 1000 + k * DRAIN)
        publish_s += time.perf_counter() - t
        probe.clear()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        daemon, stop, run = await start_daemon(port, data, probe)
        await probe.wait(n, 600)
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        span = probe.span()
        out.setdefault("commit_drain", []).extend(probe.receipt_to_commit())
        out["drift_drain"] = drift_alerts(daemon)
        assert daemon.bodycam is not None
        out["time_syncs"] = daemon.bodycam.time_syncs_sent
        stop.set()
        assert await run == 0
        drain = await bare_result(bare(port, "drain", n))
        assert drain["count"] == n, drain
        base_span = drain["last"] - drain["first"]
        rounds.append({"ours": n / span, "base": n / base_span,
                       "cpu_ours": (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) / span,
                       "cpu_base": drain["cpu_s"] / base_span})
    out["rounds"] = rounds
    out["publish_s"] = publish_s / ROUNDS
    out["n"] = n
    return out


def pct(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100)[p - 1] * 1000


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        broker = Broker(BrokerConfig(Path(tmp) / "broker", free_port(), max_queued_messages=max(100_000, 2 * DRAIN)))

        async def go() -> dict[str, Any]:
            async with broker:
                return await bench(broker.config.port, Path(tmp) / "data")

        r = asyncio.run(go())

    def line(name: str, ours: float, base: float, fmt: str = ".0f") -> None:
        print(f"{name}: ours {ours:{fmt}}, baseline {base:{fmt}}, ratio {ours / base:.2f}")

    rounds = r["rounds"]

    def median(key: str) -> float:
        return statistics.median(x[key] for x in rounds)

    line("telemetry_drain_msgs_per_s", median("ours"), median("base"))
    line("telemetry_live_latency_p50_ms", pct(r["lat_ours"], 50), pct(r["lat_base"], 50), ".1f")
    line("telemetry_live_latency_p99_ms", pct(r["lat_ours"], 99), pct(r["lat_base"], 99), ".1f")
    line("telemetry_live_cpu_cores", r["cpu_live_ours"], r["cpu_live_base"], ".2f")
    line("telemetry_drain_cpu_cores", median("cpu_ours"), median("cpu_base"), ".2f")
    print(f"# drain: {len(rounds)} rounds of {r['n']} queued messages (pre-load {r['publish_s']:.1f} s each), "
          "medians above; per round ours/baseline msg/s: "
          + ", ".join(f"{x['ours']:.0f}/{x['base']:.0f} ({x['ours'] / x['base']:.2f})" for x in rounds))
    print(f"# live: {CAMERAS} cameras x 1 msg/s x {LIVE_S} s + burst of {BURST}/camera; latency: camera ts -> "
          "commit (ours, acknowledged after commit, batch window 500 ms) / -> receipt (baseline)")
    live, drain = r["commit_live"], r["commit_drain"]
    print(f"# receipt -> commit (the ack waits for it): live p50 {pct(live, 50):.0f} ms, p99 {pct(live, 99):.0f} ms; "
          f"drain p50 {pct(drain, 50):.0f} ms, p99 {pct(drain, 99):.0f} ms")
    print(f"# clock_drift alerts: live {r['drift_live']}, after drain {r['drift_drain']}; "
          f"time_sync sent during drain {r['time_syncs']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
