"""The ``[custody]`` section: the station's signing key and how often the chain head is checkpointed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from edge.config_section import ConfigSection

DEFAULT_KEY_NAME = "custody-ed25519.pem"


class CustodyConfig(ConfigSection):
    # Unset: {station.data_dir}/custody-ed25519.pem, created (mode 0600) at first start. A named file
    # must exist: a key the operator provisioned is never replaced by a fresh one.
    key_file: Path | None = None
    # A checkpoint once this many entries were appended since the last one...
    checkpoint_every_entries: Annotated[int, Field(ge=1)] = 1000
    # ...and at least this often while the head moves (nothing is signed while it stands still).
    checkpoint_every_minutes: Annotated[float, Field(gt=0)] = 10.0

    def key_path(self, data_dir: Path) -> Path:
        return self.key_file if self.key_file is not None else data_dir / DEFAULT_KEY_NAME
