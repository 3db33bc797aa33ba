"""Periodic evaluation of the compliance rules, published as alerts (raised, changed, cleared).

The rules are pure (edge/cases/compliance.py). What feeds them comes through ``ComplianceInputs``;
in phase 1 only the case rules have real inputs (case windows vs links). The other inputs are seams,
marked SEAM below, for the tables of issue 3 (devices, dock events, clock offsets, file sequences),
issue 4 (announced vs ingested footage) and the uplink (receipts).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from edge.alerts import Alert, AlertBus
from edge.cases import compliance as rules
from edge.cases.compliance import SEVERITY, Finding
from edge.cases.config import ComplianceConfig
from edge.cases.domain import CaseDomain
from edge.store import cases as rows
from edge.supervisor import Service
from edge.timeutil import utcnow

log = logging.getLogger(__name__)


class ComplianceInputs(Protocol):
    async def announced_files(self) -> list[rules.AnnouncedFile]: ...  # SEAM: issue 3 expected footage + issue 4
    async def dock_states(self) -> list[rules.DockState]: ...  # SEAM: issue 3 dock events
    async def clock_offsets(self) -> list[rules.ClockOffset]: ...  # SEAM: issue 3/4 measured offsets
    async def sequence_gaps(self) -> list[rules.SequenceGap]: ...  # SEAM: issue 3 file sequence book
    async def awaiting_receipt(self) -> list[rules.AwaitingReceipt]: ...  # SEAM: uplink receipts


class NoInputs:
    """Phase 1: the device and footage tables are not wired in yet; those rules find nothing."""

    async def announced_files(self) -> list[rules.AnnouncedFile]:
        return []

    async def dock_states(self) -> list[rules.DockState]:
        return []

    async def clock_offsets(self) -> list[rules.ClockOffset]:
        return []

    async def sequence_gaps(self) -> list[rules.SequenceGap]:
        return []

    async def awaiting_receipt(self) -> list[rules.AwaitingReceipt]:
        return []


class ComplianceService(Service):
    name = "cases.compliance"

    def __init__(self, domain: CaseDomain, alerts: AlertBus, config: ComplianceConfig, *,
                 inputs: ComplianceInputs | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.domain = domain
        self.alerts = alerts
        self.config = config
        self.inputs: ComplianceInputs = inputs or NoInputs()
        self._clock = clock
        self.runs = 0

    async def serve(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self.config.interval_s)

    async def evaluate(self, now: datetime) -> list[Finding]:
        cfg, inputs = self.config, self.inputs
        linked_ids = await self.domain.store.read(rows.linked_footage_by_case)
        wanted = {i for ids in linked_ids.values() for i in ids}
        by_id = {f.footage_id: f for f in await self.domain.footage.facts(sorted(wanted))}
        linked = {number: [by_id[i] for i in ids if i in by_id] for number, ids in linked_ids.items()}
        covered = rules.coverage(self.domain.matcher.cases.all(), linked, now)
        return [
            *rules.officer_without_footage(covered, now, cfg),
            *rules.footage_overdue(await inputs.announced_files(), now, cfg),
            *rules.camera_undocked(await inputs.dock_states(), now, cfg),
            *rules.clock_drift(await inputs.clock_offsets(), cfg),
            *rules.sequence_gaps(await inputs.sequence_gaps(), now, cfg),
            *rules.unconfirmed_links(await inputs.awaiting_receipt(), now, cfg),
        ]

    async def run_once(self) -> list[Finding]:
        """Evaluate, raise or update what is found, clear what was resolved."""
        now = self._clock()
        findings = await self.evaluate(now)
        active = await self.domain.store.read(lambda q: rows.active_alert_keys(q, rules.KIND_PREFIX))
        for f in findings:
            # The bus records a change only when severity or message changed, so re-raising is cheap.
            await self.alerts.raise_alert(Alert(f.key, f.kind, SEVERITY[f.colour], f.subject, f.message,
                                                dict(f.details)), at=now)
        for key in sorted(active - {f.key for f in findings}):
            await self.alerts.clear_alert(key, "resolved", at=now)
        self.runs += 1
        return findings
