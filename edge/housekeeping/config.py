"""The ``[retention]`` config section: how long each growing table keeps its rows, and how pruning paces.

Telemetry and device events are the footage's context (GPS track, record start/stop, SOS), so they are
kept at least as long as routine footage (``footage.routine_retention_days``): unset, they follow it
(edge/config.py), and Config refuses a shorter value.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from edge.config_section import ConfigSection

Days = Annotated[int, Field(ge=1, le=36_500)]


class RetentionConfig(ConfigSection):
    enabled: bool = True
    telemetry_days: Days = 183
    events_days: Days = 183
    dead_letters_days: Days = 90
    alert_history_days: Days = 365  # cleared alerts with their transitions; active alerts always stay
    outbox_acked_days: Days = 30  # confirmed rows only; pending, in_flight, sent and failed ones always stay
    ingest_records_days: Days = 90  # finished upload sessions without footage, met announcements of deleted footage
    # Telemetry and events this close (device clock) to held or case-linked footage stay with it.
    context_margin_min: Annotated[int, Field(ge=0, le=24 * 60)] = 10
    interval_s: Annotated[float, Field(gt=0)] = 3600.0
    # A batch is a rowid range of at most batch_rows rows; it shrinks while a batch holds the writer
    # longer than batch_target_ms and grows back when it is quick. batch_pause_s lets other writes in.
    batch_rows: Annotated[int, Field(ge=10, le=100_000)] = 2000
    batch_target_ms: Annotated[float, Field(gt=0)] = 5.0
    batch_pause_s: Annotated[float, Field(ge=0, le=10)] = 0.005
    # Free pages given back to the filesystem per vacuum step (4 KiB each; fewer while steps are slow).
    vacuum_pages: Annotated[int, Field(ge=1, le=1_000_000)] = 128
    # Exact rows per table for /metrics, counted on a reader this often (a count is a full index scan).
    row_count_interval_s: Annotated[float, Field(gt=0)] = 300.0

    def days_for(self, rule: str) -> int:
        days: int = getattr(self, _DAYS_KEY[rule])
        return days


# edge.store.prune.RULES names -> the key that sets their retention
_DAYS_KEY = {"telemetry": "telemetry_days", "events": "events_days", "dead_letters": "dead_letters_days",
             "alert_history": "alert_history_days", "outbox": "outbox_acked_days",
             "ingests": "ingest_records_days", "expected_footage": "ingest_records_days"}


def check_covers_footage(retention: RetentionConfig, routine_retention_days: int) -> None:
    """Raise ValueError if telemetry or events would go before the routine footage they explain."""
    for key in ("telemetry_days", "events_days"):
        days = getattr(retention, key)
        if days < routine_retention_days:
            raise ValueError(
                f"retention.{key} ({days}) is shorter than footage.routine_retention_days "
                f"({routine_retention_days}): GPS tracks and events are the footage's context and must be kept "
                f"at least as long; set retention.{key} to {routine_retention_days} or more")
