"""What the footage routes reach: the running footage service's parts, put on the app under FOOTAGE_KEY."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from edge.bodycam.footage.config import FootageConfig
from edge.bodycam.footage.disk import DiskGuard
from edge.bodycam.footage.layout import Layout
from edge.bodycam.footage.uploads import UploadManager
from edge.store import Store
from edge.web.problems import ProblemError


@dataclass
class FootageApi:
    config: FootageConfig
    store: Store
    layout: Layout
    disk: DiskGuard
    run_retention: Callable[[], Awaitable[list[int]]]
    reconciliation: dict[str, Any] = field(default_factory=dict)
    upload_manager: UploadManager | None = None  # set while the footage service runs

    @property
    def uploads(self) -> UploadManager:
        if self.upload_manager is None:
            raise ProblemError(503, "footage-unavailable", "the footage service is starting or restarting; retry")
        return self.upload_manager


FOOTAGE_KEY = web.AppKey("footage", FootageApi)
