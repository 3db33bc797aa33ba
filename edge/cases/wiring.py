"""How the station builds the case domain: the domain service, the feed (if a URL is set), the compliance
service and the HTTP routes, with the seams wired to the real tables (``seams``) when the body-camera and
footage services run, and to the phase-1 stand-ins otherwise (a station without cameras)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from edge.cases.compliance_service import ComplianceInputs, ComplianceService
from edge.cases.config import CasesConfig
from edge.cases.domain import CaseDomain
from edge.cases.feed import CaseFeed
from edge.cases.routes import route_adder
from edge.cases.seams import ConfiguredOfficers, FootageSource, HoldHook, OfficerDirectory
from edge.config import Config
from edge.station_parts import StationParts
from edge.store import Store
from edge.supervisor import Service

if TYPE_CHECKING:
    from edge.bodycam.footage.service import FootageService
    from edge.bodycam.service import BodycamService


@dataclass
class CaseParts:
    domain: CaseDomain
    feed: CaseFeed | None
    compliance: ComplianceService
    add_routes: Callable[[web.Application], None]

    @property
    def services(self) -> list[Service]:
        # The domain first: entering it loads the matcher, which the feed and compliance rely on.
        return [s for s in (self.domain, self.feed, self.compliance) if s is not None]


def build(parts: StationParts, section: CasesConfig, *,
          footage: FootageSource | None = None, officers: OfficerDirectory | None = None,
          hold: HoldHook | None = None, inputs: ComplianceInputs | None = None) -> CaseParts:
    """Create the domain, feed and compliance services (the seams come from ``seams``) and register the
    HTTP routes."""
    domain = CaseDomain(parts.store, section, parts.station_id, footage=footage, officers=officers, hold=hold)
    feed = CaseFeed(domain, section.feed) if section.feed.url else None
    compliance = ComplianceService(domain, parts.alerts, section.compliance, inputs=inputs)
    built = CaseParts(domain, feed, compliance, route_adder(domain))
    parts.add_routes(built.add_routes)
    return built


def seams(config: Config, store: Store) -> dict[str, Any]:
    """The real seams for ``build``: officers once the officer register runs (issue 3), footage, holds and
    the device/footage compliance inputs once footage ingest runs (issue 4)."""
    from edge.cases.sources import StoreComplianceInputs, StoreFootage, StoreOfficers
    from edge.store.footage import case_hold

    found: dict[str, Any] = {}
    if config.services.bodycam:
        # The configured list stays a fallback only while the register is empty.
        fallback = ConfiguredOfficers(config.cases.feed) if config.cases.feed.check_officers else None
        found["officers"] = StoreOfficers(store, fallback)
        found["inputs"] = StoreComplianceInputs(store, uplink=config.services.uplink)
        if config.footage.enabled:
            found["footage"] = StoreFootage(store)
            found["hold"] = functools.partial(case_hold, retention_days=config.footage.routine_retention_days)
    return found


def connect_footage(parts: CaseParts, footage: FootageService) -> None:
    """Footage ingest marks each new file as owed a matching run (in its own transaction), then links it."""
    from edge.bodycam.footage.committer import CaseHooks

    footage.case_hooks = CaseHooks(parts.domain.footage_pending, parts.domain.footage_ingested)


def connect_bodycam(parts: CaseParts, bodycam: BodycamService, store: Store) -> None:
    """A camera's case_tag can arrive after its file was ingested: re-match the files it speaks of."""
    from edge.store.case_sources import footage_for_tag

    async def on_case_tag(device_id: str, file_name: str | None, device_ts: datetime) -> None:
        ids = await store.read(lambda q: footage_for_tag(q, device_id, file_name, device_ts))
        for footage_id in ids:
            await parts.domain.footage_ingested(footage_id)

    bodycam.events.case_tag_listeners.append(on_case_tag)

