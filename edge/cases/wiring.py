"""How the daemon builds the case domain: the domain service, the feed (if a URL is set), the compliance
service and the HTTP routes. Issues 3/4 pass their seams (officers, footage, holds, compliance inputs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from edge.alerts import AlertBus
from edge.cases.compliance_service import ComplianceInputs, ComplianceService
from edge.cases.config import CasesConfig
from edge.cases.domain import CaseDomain
from edge.cases.feed import CaseFeed
from edge.cases.routes import route_adder
from edge.cases.seams import FootageSource, HoldHook, OfficerDirectory
from edge.store import Store
from edge.supervisor import Service


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


def build(config: CasesConfig, store: Store, alerts: AlertBus, station_id: str, *,
          footage: FootageSource | None = None, officers: OfficerDirectory | None = None,
          hold: HoldHook | None = None, inputs: ComplianceInputs | None = None) -> CaseParts:
    domain = CaseDomain(store, config, station_id, footage=footage, officers=officers, hold=hold)
    feed = CaseFeed(domain, config.feed) if config.feed.url else None
    compliance = ComplianceService(domain, alerts, config.compliance, inputs=inputs)
    return CaseParts(domain, feed, compliance, route_adder(domain))
