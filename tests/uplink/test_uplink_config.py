"""The ``[uplink]`` section: defaults, the documented example in config/edge.toml, and each class of bad
input with its key path."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from edge.config import ConfigError, parse
from edge.store.uplink_queue import TrafficClass as C

REPO = Path(__file__).resolve().parents[2]


def errors(uplink: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse({"station": {"id": "st-1"}, "uplink": uplink})
    return caught.value.errors


def test_the_defaults_are_valid_and_the_uplink_stays_off() -> None:
    config = parse({"station": {"id": "st-1"}})
    assert config.services.uplink is False
    assert config.uplink.link_mbit_s == 10 and config.uplink.windows == []
    assert config.uplink.classes.telemetry.expendable is True and config.uplink.classes.evidence.ttl_s is None


def test_the_commented_example_in_edge_toml_is_valid_once_uncommented() -> None:
    text = (REPO / "config" / "edge.toml").read_text(encoding="utf-8")
    start = text.index("# [uplink]")
    block = []
    for line in text[start:].splitlines():
        if not line.startswith("#"):
            break
        block.append(re.sub(r"^# ?", "", line))
    uplink = tomllib.loads("\n".join(block))["uplink"]
    config = parse({"station": {"id": "st-1"}, "uplink": uplink})
    assert [w.name for w in config.uplink.windows] == ["business", "night"]
    assert config.uplink.classes.telemetry.ttl_s == 604_800
    assert config.uplink.central is not None and config.uplink.central.breaker_failures == 5


@pytest.mark.parametrize(("uplink", "path", "message"), [
    ({"link_mbit_s": 0}, "uplink.link_mbit_s", "a budget of 0"),
    ({"windows": [{"name": "w", "start": "08:00", "end": "18:00", "link_mbit_s": 0}]},
     "uplink.windows[0].link_mbit_s", "a budget of 0"),
    ({"windows": [{"name": "w", "start": "22:00", "end": "06:00"}]},
     "uplink.windows[0]", "ends (06:00) before it starts (22:00); a window across midnight needs overnight = true"),
    ({"windows": [{"name": "w", "start": "08:00", "end": "18:00", "overnight": True}]},
     "uplink.windows[0]", "overnight but ends (18:00) after it starts"),
    ({"windows": [{"name": "w", "start": "08:00", "end": "08:00"}]}, "uplink.windows[0]", "is empty"),
    ({"windows": [{"name": "w", "start": "8:00", "end": "18:00"}]}, "uplink.windows[0].start", "HH:MM"),
    ({"windows": [{"name": "w", "start": "08:00", "end": "24:01"}]}, "uplink.windows[0].end", "not a time of day"),
    ({"windows": [{"name": "w", "start": "08:00", "end": "18:00", "days": ["monday"]}]},
     "uplink.windows[0].days", "unknown day(s) 'monday'"),
    ({"windows": [{"name": "day", "start": "08:00", "end": "18:00"},
                  {"name": "late", "start": "17:00", "end": "07:00", "overnight": True}]},
     "uplink.windows", "windows 'day' and 'late' overlap on mon from 17:00 to 18:00"),
    ({"windows": [{"name": "sun-night", "start": "22:00", "end": "06:00", "overnight": True, "days": ["sun"]},
                  {"name": "mon-early", "start": "05:00", "end": "07:00", "days": ["mon"]}]},
     "uplink.windows", "overlap on mon from 05:00 to 06:00"),  # Sunday night wraps into Monday
    ({"windows": [{"name": "a", "start": "08:00", "end": "09:00"}, {"name": "a", "start": "10:00", "end": "11:00"}]},
     "uplink.windows", "duplicate window names: a"),
    ({"windows": [{"name": "w", "start": "08:00", "end": "18:00", "paused": ["critical"]}]},
     "uplink.windows[0].paused", "never paused by a window"),
    ({"windows": [{"name": "w", "start": "08:00", "end": "18:00", "paused": ["footage"]}]},
     "uplink.windows[0].paused[0]", "Input should be 'critical', 'evidence'"),
    ({"classes": {"footage": {"weight": 2}}}, "uplink.classes", "unknown class 'footage'"),
    ({"classes": {"critical": {"weight": 2}}}, "uplink.classes", "critical always goes first"),
    ({"classes": {"evidence": {"ttl_s": 3600}}}, "uplink.classes.evidence.ttl_s", "evidence never expires"),
    ({"classes": {"evidence": {"expendable": True}}}, "uplink.classes.evidence.expendable", "never expendable"),
    ({"classes": {"routine": {"ttl_s": 3600}}}, "uplink.classes.routine", "ttl_s needs expendable = true"),
    ({"classes": {"routine": {"weight": 0}}}, "uplink.classes.routine.weight", "greater than or equal to 1"),
    ({"classes": {"evidence": {"min_share": 0.6}, "kiosk": {"min_share": 0.5}}}, "uplink.classes",
     "add up to 1.25"),  # with routine 0.1 and telemetry 0.05 by default
    ({"metered_defers": ["critical"]}, "uplink.metered_defers", "never deferred by metering"),
    ({"timezone": "Europe/Atlantis"}, "uplink.timezone", "unknown time zone 'Europe/Atlantis'"),
    ({"pacing": 1.5}, "uplink.pacing", "less than or equal to 1"),
    ({"retry_min_s": 10, "retry_max_s": 5}, "uplink", "retry_max_s (5) is below retry_min_s (10)"),
    ({"link_mbit_s": 5, "speed": 3}, "uplink.speed", "Extra inputs are not permitted"),
])
def test_each_bad_setting_is_refused_with_its_key_path(uplink: dict[str, Any], path: str, message: str) -> None:
    found = errors(uplink)
    assert len(found) == 1, found
    assert found[0][0] == path
    assert message in found[0][1]


def test_an_expendable_class_may_have_a_ttl_and_telemetry_is_expendable_by_default() -> None:
    config = parse({"station": {"id": "st-1"}, "uplink": {"classes": {
        "routine": {"expendable": True, "ttl_s": 86_400}, "telemetry": {"ttl_s": 3600}}}})
    assert config.uplink.classes.policy(C.ROUTINE).ttl_s == 86_400
    assert config.uplink.classes.policy(C.TELEMETRY).ttl_s == 3600
    assert config.uplink.ttls() == {C.ROUTINE: 86_400, C.TELEMETRY: 3600}


def test_a_partly_written_class_table_keeps_that_class_s_other_defaults() -> None:
    config = parse({"station": {"id": "st-1"}, "uplink": {"classes": {"telemetry": {"ttl_s": 60},
                                                                      "evidence": {"weight": 20}}}})
    assert config.uplink.classes.telemetry.expendable is True and config.uplink.classes.telemetry.min_share == 0.05
    assert config.uplink.classes.evidence.min_share == 0.3


def test_windows_that_touch_do_not_overlap() -> None:
    config = parse({"station": {"id": "st-1"}, "uplink": {"windows": [
        {"name": "day", "start": "06:00", "end": "22:00"},
        {"name": "night", "start": "22:00", "end": "06:00", "overnight": True},
        ]}})
    assert len(config.uplink.window_rules()) == 2


CENTRAL = {"url": "https://central.example/", "api_key_file": "/run/secrets/central-api.key",
           "receipt_key_file": "/run/secrets/central-receipt.key"}


def test_the_central_target_section_is_optional_and_validated() -> None:
    config = parse({"station": {"id": "st-1"}, "uplink": {"central": CENTRAL}})
    central = config.uplink.central
    assert central is not None and central.url == "https://central.example" and central.max_batch_items == 100
    assert parse({"station": {"id": "st-1"}}).uplink.central is None


@pytest.mark.parametrize(("extra", "path", "message"), [
    ({"url": "http://central.example"}, "uplink.central.url", "use https://"),
    ({"url": "ftp://central.example"}, "uplink.central.url", "https:// URL"),
    ({"client_key_file": "/k.pem"}, "uplink.central", "client_key_file needs client_cert_file"),
    ({"url": "http://127.0.0.1:8700", "ca_file": "/ca.pem"}, "uplink.central", "need an https:// url"),
    ({"max_batch_items": 501}, "uplink.central.max_batch_items", "less than or equal"),
    ({"breaker_failures": 0}, "uplink.central.breaker_failures", "greater than or equal"),
    ({"api_key": "inline"}, "uplink.central.api_key", "Extra inputs"),
])
def test_bad_central_settings_name_their_key(extra: dict[str, Any], path: str, message: str) -> None:
    found = errors({"central": {**CENTRAL, **extra}})
    assert any(p == path and message in m for p, m in found), found


def test_central_secret_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    relative = {**CENTRAL, "api_key_file": "secrets/api.key", "ca_file": "pki/ca.pem"}
    config = parse({"station": {"id": "st-1"}, "uplink": {"central": relative}}, base_dir=tmp_path)
    assert config.uplink.central is not None
    assert config.uplink.central.api_key_file == tmp_path / "secrets" / "api.key"
    assert config.uplink.central.ca_file == tmp_path / "pki" / "ca.pem"
