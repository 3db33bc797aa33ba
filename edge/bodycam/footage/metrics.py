"""Footage metrics (names station_edge_footage_*; listed in docs/operations.md)."""

from __future__ import annotations

from edge.metrics import Metrics


class FootageMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.ingested = metrics.counter("station_edge_footage_ingested", "Files ingested, by source and outcome",
                                        ["source", "outcome"])
        self.bytes_received = metrics.counter("station_edge_footage_bytes_received", "Upload bytes written")
        self.refused = metrics.counter("station_edge_footage_refused", "Upload requests refused, by reason",
                                       ["reason"])
        self.active_uploads = metrics.gauge("station_edge_footage_uploads_active", "Upload requests in progress")
        self.disk_used = metrics.gauge("station_edge_footage_disk_used_ratio", "Footage filesystem used (0-1)")
        self.disk_level = metrics.gauge("station_edge_footage_disk_level",
                                        "0 ok, 1 high, 2 critical (routine refused), 3 below the hard floor")
        self.deleted = metrics.counter("station_edge_footage_retention_deleted",
                                       "Routine files deleted by retention")
        self.damaged = metrics.counter("station_edge_footage_damaged",
                                       "Files flagged damaged or not video by the probe")
        self.probe_seconds = metrics.histogram("station_edge_footage_probe_seconds", "Probe + thumbnail time",
                                               buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.reconcile_problems = metrics.gauge("station_edge_footage_reconcile_problems",
                                                "Problems found by the last reconciliation", ["kind"])
        self.dock_files = metrics.counter("station_edge_footage_dock_files", "Dock files handled, by outcome",
                                          ["outcome"])
        self.dock_refused = metrics.counter("station_edge_footage_dock_refused",
                                            "Dock folders or files refused, by reason (symlink, insufficient-storage)",
                                            ["reason"])
