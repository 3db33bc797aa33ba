"""RFC 9457 problem details: every HTTP error is application/problem+json with a specific type."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from edge.privacy import mask_value

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "urn:station-edge:problem:"


class ProblemError(Exception):
    """Raise from a handler to answer with a problem document."""

    def __init__(self, status: int, slug: str, detail: str, *, title: str = "",
                 headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.title = title or slug.replace("-", " ").capitalize()
        self.headers = dict(headers or {})  # e.g. Retry-After on a 429
        self.extra = extra


def problem_response(error: ProblemError, *, instance: str = "", headers: dict[str, str] | None = None
                     ) -> web.Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + error.slug,
        "title": error.title,
        "status": error.status,
        # A detail often quotes the input it refuses, which may be an ID number: masked like a log line.
        "detail": mask_value(error.detail),
    }
    if instance:
        body["instance"] = mask_value(instance)  # the request path: an ID number in a URL is still one
    body.update(mask_value(error.extra))
    return web.Response(
        status=error.status,
        body=json.dumps(body, ensure_ascii=False).encode(),
        content_type=PROBLEM_CONTENT_TYPE,
        headers={**error.headers, **(headers or {})},
    )
