"""SeaweedFS and the central ingest simulator for tests: S3 clients per identity, a central platform whose
manifests are checked against the real store."""

from __future__ import annotations

import contextlib
import json
import os
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devices.simulators.central import CentralSimulator, start_central
from devices.simulators.central.ingest import IngestSettings
from devices.simulators.central.object_store import StoreAccess, s3_client
from devices.simulators.central.seaweed import SeaweedServer

START = datetime(2024, 6, 1, 0, 0, tzinfo=UTC)


def access(server: SeaweedServer, identity: str = "station") -> StoreAccess:
    who = server.identity(identity)
    return StoreAccess(server.endpoint, who.access_key, who.secret_key)


def client(server: SeaweedServer, identity: str = "station") -> Any:
    """``async with client(seaweed) as s3:`` an aiobotocore S3 client signing as ``identity``."""
    return s3_client(access(server, identity))


@dataclass
class Central:
    sim: CentralSimulator
    station: str
    api_key: str
    receipt_key: bytes

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def _write_keys(directory: Path, station: str, api_key: str, receipt_key: bytes) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    keys, receipt = directory / "station-keys.json", directory / "receipt.key"
    keys.write_text(json.dumps({station: api_key, "ST-2": os.urandom(16).hex()}) + "\n")
    receipt.write_bytes(receipt_key + b"\n")
    return keys, receipt


@contextlib.asynccontextmanager
async def central_ingest(server: SeaweedServer | None, directory: Path, *, ssl_context: ssl.SSLContext | None = None,
                         **options: Any) -> AsyncIterator[Central]:
    """The simulated central platform with its ingest side, keys read from files as in production (over TLS
    with a server ``ssl_context``)."""
    station, api_key, receipt_key = "ST-1", os.urandom(16).hex(), os.urandom(32).hex().encode()
    keys, receipt = _write_keys(directory, station, api_key, receipt_key)
    store = access(server, "central") if server is not None else None
    settings = IngestSettings.from_files(keys, receipt, store=store, **options)
    async with start_central(seed=1, start=START, ingest=settings, ssl_context=ssl_context) as sim:
        yield Central(sim, station, api_key, receipt_key)
