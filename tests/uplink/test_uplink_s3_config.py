"""``[uplink.s3]``: the documented example, part sizes within S3's limits, at most 10,000 parts a file, key
files resolved from the config's folder and read only from files (a missing or empty one named)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from edge.config import ConfigError, load, parse
from edge.uplink.s3_config import MIB, check_part_size
from edge.uplink.targets.s3 import CredentialsError, S3Credentials

REPO = Path(__file__).resolve().parents[2]
BASE = {"endpoint_url": "http://127.0.0.1:9000", "bucket": "footage", "access_key_id_file": "/k/id",
        "secret_access_key_file": "/k/secret"}


def errors(s3: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse({"station": {"id": "st-1"}, "uplink": {"s3": s3}})
    return caught.value.errors


def test_the_commented_example_in_edge_toml_is_valid_once_uncommented() -> None:
    text = (REPO / "config" / "edge.toml").read_text(encoding="utf-8")
    block = []
    for line in text[text.index("# [uplink.s3]"):].splitlines():
        if not line.startswith("#"):
            break
        block.append(re.sub(r"^# ?", "", line))
    s3 = tomllib.loads("\n".join(block))["uplink"]["s3"]
    config = parse({"station": {"id": "st-1"}, "uplink": {"s3": s3}})
    assert config.uplink.s3 is not None and config.uplink.s3.part_size == 16 * MIB


def test_unset_means_no_footage_target() -> None:
    assert parse({"station": {"id": "st-1"}}).uplink.s3 is None


@pytest.mark.parametrize(("change", "path", "message"), [
    ({"part_size_mib": 4}, "uplink.s3.part_size_mib", "greater than or equal to 5"),
    ({"part_size_mib": 5 * 1024 + 1}, "uplink.s3.part_size_mib", "less than or equal to 5120"),
    ({"endpoint_url": "ftp://store"}, "uplink.s3.endpoint_url", "http:// or https://"),
    ({"endpoint_url": "http://store:99999"}, "uplink.s3.endpoint_url", "Port out of range"),
    ({"bucket": "Bad_Bucket"}, "uplink.s3.bucket", "should match pattern"),
    ({"secret_access_key": "inline"}, "uplink.s3.secret_access_key", "Extra inputs are not permitted"),
    ({"endpoint_url": "http://s3.central.example"}, "uplink.s3.endpoint_url", "use https://"),
    ({"ca_file": "/pki/ca.pem"}, "uplink.s3", "ca_file needs an https:// endpoint_url"),
])
def test_bad_values_are_refused_with_their_key(change: dict[str, Any], path: str, message: str) -> None:
    found = errors({**BASE, **change})
    assert any(p == path and message in m for p, m in found), found


def test_a_file_needing_more_than_10000_parts_is_refused() -> None:
    assert check_part_size(16 * MIB, 10_000 * 16 * MIB) == 16 * MIB
    with pytest.raises(ValueError, match="more than 10000 parts"):
        check_part_size(16 * MIB, 10_000 * 16 * MIB + 1)
    with pytest.raises(ValueError, match="outside S3's 5 MiB-5 GiB"):
        check_part_size(MIB, 100)


def test_key_files_are_relative_to_the_config_and_read_at_start(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "id").write_text("AKID\n")
    (tmp_path / "secrets" / "secret").write_text("")
    (tmp_path / "edge.toml").write_text(
        '[station]\nid = "st-1"\n[uplink.s3]\nendpoint_url = "http://127.0.0.1:9000"\nbucket = "footage"\n'
        'access_key_id_file = "secrets/id"\nsecret_access_key_file = "secrets/secret"\n')
    s3 = load(tmp_path / "edge.toml").uplink.s3
    assert s3 is not None and s3.access_key_id_file == tmp_path / "secrets" / "id"
    with pytest.raises(CredentialsError, match=r"uplink.s3.secret_access_key_file: secret file .*secret is empty"):
        S3Credentials.from_files(s3)
    (tmp_path / "secrets" / "secret").write_text("s3cr3t\n")
    credentials = S3Credentials.from_files(s3)
    assert (credentials.access_key_id, credentials.secret_access_key) == ("AKID", "s3cr3t")
    assert "s3cr3t" not in repr(credentials)
    (tmp_path / "secrets" / "id").unlink()
    with pytest.raises(CredentialsError, match=r"uplink\.s3\.access_key_id_file: cannot read secret file"):
        S3Credentials.from_files(s3)
