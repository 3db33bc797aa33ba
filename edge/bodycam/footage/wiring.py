"""How footage ingest plugs into the station (kept here so daemon.py only calls ``build``)."""

from __future__ import annotations

from pathlib import Path

from edge.bodycam.footage.config import FootageConfig
from edge.bodycam.footage.layout import Layout
from edge.bodycam.footage.service import FootageService
from edge.station_parts import StationParts


def build(parts: StationParts, section: FootageConfig, data_dir: Path) -> FootageService:
    """Create the ingest service over its folders under ``data_dir`` and register its HTTP routes."""
    service = FootageService(section, Layout(section.root(data_dir)), parts.store, parts.alerts, parts.metrics)
    parts.add_routes(service.add_routes)
    return service
