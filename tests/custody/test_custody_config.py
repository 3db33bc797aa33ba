from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import ConfigError, parse


def test_defaults_and_the_key_next_to_the_data() -> None:
    config = parse({"station": {"id": "ST-1", "data_dir": "/srv/edge"}})
    assert config.custody.checkpoint_every_entries == 1000 and config.custody.checkpoint_every_minutes == 10
    assert config.custody.key_path(config.station.data_dir) == Path("/srv/edge/custody-ed25519.pem")


def test_a_relative_key_file_is_relative_to_the_config(tmp_path: Path) -> None:
    config = parse({"station": {"id": "ST-1"}, "custody": {"key_file": "keys/station.pem"}}, base_dir=tmp_path)
    assert config.custody.key_path(config.station.data_dir) == tmp_path / "keys" / "station.pem"


@pytest.mark.parametrize(("values", "key"), [
    ({"checkpoint_every_entries": 0}, "custody.checkpoint_every_entries"),
    ({"checkpoint_every_minutes": 0}, "custody.checkpoint_every_minutes"),
    ({"every": 5}, "custody.every"),
])
def test_bad_values_name_their_key(values: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse({"station": {"id": "ST-1"}, "custody": values})
    assert key in [path for path, _ in error.value.errors]
