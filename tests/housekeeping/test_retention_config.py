"""The [retention] section: defaults follow the recording rules, too-short context is refused clearly."""

from __future__ import annotations

import pytest

from edge.config import ConfigError, parse

STATION = {"id": "S1", "data_dir": "/tmp/station-edge-test"}


def test_defaults_keep_telemetry_and_events_as_long_as_routine_footage() -> None:
    config = parse({"station": STATION})
    assert config.retention.telemetry_days >= config.footage.routine_retention_days
    assert config.retention.events_days >= config.footage.routine_retention_days


def test_unset_context_retention_follows_a_longer_footage_retention() -> None:
    config = parse({"station": STATION, "footage": {"routine_retention_days": 400}, "retention": {"events_days": 500}})
    assert config.retention.telemetry_days == 400 and config.retention.events_days == 500
    with pytest.raises(ConfigError, match=r"retention.telemetry_days \(300\) is shorter"):
        parse({"station": STATION, "footage": {"routine_retention_days": 400}, "retention": {"telemetry_days": 300}})


@pytest.mark.parametrize("key", ["telemetry_days", "events_days"])
def test_context_shorter_than_routine_footage_is_refused(key: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse({"station": STATION, "retention": {key: 30}})
    message = str(error.value)
    assert f"retention.{key} (30) is shorter than footage.routine_retention_days (183)" in message
    assert "context" in message


def test_shorter_footage_retention_by_override_allows_shorter_context() -> None:
    config = parse({"station": STATION, "footage": {"routine_retention_days": 30,
                                                    "retention_override_reason": "pilot site, written order 7"},
                    "retention": {"telemetry_days": 30, "events_days": 45}})
    assert config.retention.telemetry_days == 30


def test_unknown_and_out_of_range_keys_name_their_path() -> None:
    with pytest.raises(ConfigError) as error:
        parse({"station": STATION, "retention": {"telemetry_dayz": 200, "batch_rows": 1}})
    paths = {path for path, _ in error.value.errors}
    assert {"retention.telemetry_dayz", "retention.batch_rows"} <= paths
