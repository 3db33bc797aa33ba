"""The ``[uplink.s3]`` config section: the S3-compatible store that footage goes to by multipart upload, with
S3's part limits checked (5 MiB-5 GiB a part, at most 10,000 parts a file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from edge.config_section import ConfigSection
from edge.uplink.wan_url import check_wan_url

MIB = 1 << 20
S3_MIN_PART = 5 * MIB  # S3's limits: every part but the last at least 5 MiB, at most 5 GiB, 10,000 parts
S3_MAX_PART = 5 << 30
S3_MAX_PARTS = 10_000


class S3Config(ConfigSection):
    """``[uplink.s3]``: the S3-compatible store footage goes to by multipart upload (edge/uplink/targets/s3.py).

    The keys live in secret files (never inline), read when the target starts."""

    endpoint_url: str  # e.g. https://s3.central.example:9000
    region: str = "us-east-1"
    bucket: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    access_key_id_file: Path
    secret_access_key_file: Path
    part_size_mib: Annotated[int, Field(ge=5, le=5 * 1024)] = 16  # 16-64 MiB suits footage; S3 allows 5 MiB-5 GiB
    connect_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    read_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    read_threads: Annotated[int, Field(ge=1, le=8)] = 2  # parts are read and hashed off the event loop
    ca_file: Path | None = None  # PEM bundle to verify the store against (a police PKI); unset: the system's

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        check_wan_url(value, "store")
        return value

    @model_validator(mode="after")
    def _ca_needs_https(self) -> Self:
        if self.ca_file is not None and urlsplit(self.endpoint_url).scheme != "https":
            raise ValueError("ca_file needs an https:// endpoint_url")
        return self

    @property
    def part_size(self) -> int:
        return self.part_size_mib * MIB

    def part_size_for(self, file_size: int) -> int:
        """The configured part size, refused when the file would need more than S3's 10,000 parts."""
        return check_part_size(self.part_size, file_size)


def check_part_size(part_size: int, file_size: int) -> int:
    if not S3_MIN_PART <= part_size <= S3_MAX_PART:
        raise ValueError(f"part size {part_size} is outside S3's 5 MiB-5 GiB")
    if -(-file_size // part_size) > S3_MAX_PARTS:
        raise ValueError(f"a file of {file_size} bytes needs more than {S3_MAX_PARTS} parts of {part_size} bytes;"
                         " raise uplink.s3.part_size_mib")
    return part_size
