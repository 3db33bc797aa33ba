"""Every route that shows a person footage metadata records it here: one ``footage.view`` custody entry per
read, naming every id it returned (edge/store/footage_views.py), so a long listing stays one write."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from edge.store import footage_views
from edge.web.app import CONTEXT_KEY
from edge.web.auth import PRINCIPAL_KEY


async def record_footage_view(request: web.Request, footage_ids: Iterable[int | str], where: str) -> None:
    """Write the entry for this read (nothing when it returned no file); the actor is the caller."""
    ids = list(footage_ids)
    actor, route, query = request[PRINCIPAL_KEY].actor, request.path, dict(request.query)
    await request.app[CONTEXT_KEY].store.write(lambda tx: footage_views.record(
        tx, actor=actor, footage_ids=ids, where=where, route=route, query=query))
