"""Prometheus metrics: the only module that imports prometheus_client.

One registry per daemon (not the library's global one) so that tests can run several daemons in one
process. Domain services register their own metrics through ``Metrics.counter`` etc.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.service_up = self.gauge("station_edge_service_up", "1 while the service runs", ["service"])
        self.service_restarts = self.counter(
            "station_edge_service_restarts", "Restarts after a failure", ["service"]
        )
        self.mqtt_connected = self.gauge("station_edge_mqtt_connected", "1 while connected to the broker")
        self.mqtt_messages_in = self.counter("station_edge_mqtt_messages_in", "Messages received", ["route"])
        self.mqtt_messages_out = self.counter("station_edge_mqtt_messages_out", "Messages published")
        self.mqtt_rejected = self.counter(
            "station_edge_mqtt_messages_rejected", "Messages dead-lettered", ["reason"]
        )
        self.mqtt_duplicates = self.counter(
            "station_edge_mqtt_duplicates", "Redelivered QoS 1 duplicates dropped"
        )
        self.mqtt_reconnects = self.counter("station_edge_mqtt_reconnects", "Connections after the first")
        self.store_write_seconds = self.histogram(
            "station_edge_store_write_seconds",
            "Time from queueing a write to its commit",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
        )
        self.store_group_size = self.histogram(
            "station_edge_store_group_jobs", "Write jobs per group commit", buckets=(1, 2, 5, 10, 50, 100, 512)
        )

    def counter(self, name: str, doc: str, labels: list[str] | None = None) -> Counter:
        return Counter(name, doc, labels or [], registry=self.registry)

    def gauge(self, name: str, doc: str, labels: list[str] | None = None) -> Gauge:
        return Gauge(name, doc, labels or [], registry=self.registry)

    def histogram(
        self, name: str, doc: str, labels: list[str] | None = None, *, buckets: tuple[float, ...]
    ) -> Histogram:
        return Histogram(name, doc, labels or [], registry=self.registry, buckets=buckets)

    def observe_commit(self, seconds: float, jobs: int) -> None:
        """Store callback; runs on the writer thread (prometheus_client is thread-safe)."""
        self.store_write_seconds.observe(seconds)
        self.store_group_size.observe(jobs)

    def render(self) -> bytes:
        return generate_latest(self.registry)
