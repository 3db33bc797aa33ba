"""The seams of edge/cases/seams.py wired to the real tables of issues 3 and 4 (SQL: edge/store/case_sources.py).

- ``StoreOfficers``: the officer register (issue 3). Until the first officer is enrolled every well-formed
  number is accepted (a fresh station must not refuse its whole first feed page); afterwards unknown
  numbers are refused as ``unknown_officer``.
- ``StoreFootage``: footage rows (issue 4). Times: the device-clock range comes from the camera's ``file``
  announcement (``expected_footage.device_start/device_end``), else ``recorded_at`` plus the probed
  duration; it is corrected by the clock offset measured when the file was ingested
  (``footage.clock_offset_ms``, device minus station) and the originals stay in the footage and
  announcement rows. Officer: ``footage.officer_no`` (the device assignment at the corrected recording
  time, set by ingest accounting), else looked up now. GPS: the device's telemetry fixes whose device
  timestamp falls in the range. Tags: the device's ``case_tag`` events naming the file, or naming no file
  and sent while it recorded.
- ``StoreComplianceInputs``: expected footage, dock events, the registry's offsets, file sequences and
  the outbox (``case.link`` entries not confirmed, only once the uplink runs).

Footage ids in the case domain are the decimal text of ``footage.id``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Collection
from datetime import datetime, timedelta
from typing import Any

from edge.cases import compliance as rules
from edge.cases.model import FootageFacts, TrackPoint
from edge.cases.seams import ConfiguredOfficers
from edge.store import Queries, Store, enrolment
from edge.store import case_sources as rows
from edge.store import telemetry as telemetry_rows
from edge.timeutil import from_iso

TRACK_LIMIT = 2000  # fixes per file: ~5.5 h at one fix every 10 s; more adds nothing to a distance
_INDEX = re.compile(r"_(\d{1,8})(?:\.[A-Za-z0-9]{1,8})?$")


class StoreOfficers:
    def __init__(self, store: Store, fallback: ConfiguredOfficers | None = None) -> None:
        self._store = store
        self._fallback = fallback

    async def known_officers(self) -> Collection[str] | None:
        numbers = await self._store.read(rows.officer_numbers)
        if numbers:
            return frozenset(numbers)
        return None if self._fallback is None else await self._fallback.known_officers()


def footage_id(value: str) -> int | None:
    """The footage table's id for the case domain's text id, or None if it cannot name a file."""
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


def _range(row: dict[str, Any]) -> tuple[datetime, datetime] | None:
    """The recording's range on the device clock."""
    start_text = row["recorded_at"] or row["device_start"]
    if not start_text:
        return None
    start = from_iso(start_text)
    if row["device_end"]:
        end = from_iso(row["device_end"])
    elif row["duration_s"] is not None:
        end = start + timedelta(seconds=float(row["duration_s"]))
    else:
        end = start
    return start, max(start, end)


def _facts(q: Queries, row: dict[str, Any], *, details: bool) -> FootageFacts | None:
    found = _range(row)
    if found is None:
        return None
    dev_start, dev_end = found
    offset = timedelta(milliseconds=row["clock_offset_ms"] or 0)
    start, end = dev_start - offset, dev_end - offset
    officer = row["officer_no"]
    if officer is None:
        assignment = enrolment.assignment_at(q, row["device_id"], start)
        officer = assignment["officer_no"] if assignment else None
    track: tuple[TrackPoint, ...] = ()
    if details:
        fixes = telemetry_rows.track(q, row["device_id"], dev_start, dev_end + timedelta(seconds=1),
                                     limit=TRACK_LIMIT)
        track = tuple(TrackPoint(from_iso(f["device_ts"]) - offset, f["lat"], f["lon"]) for f in fixes)
    tags = rows.case_tags(q, row["device_id"], row["file_name"], dev_start, dev_end)
    return FootageFacts(str(row["id"]), officer, start, end, track, frozenset(tags))


class StoreFootage:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def facts(self, footage_ids: Collection[str]) -> list[FootageFacts]:
        ids = sorted({i for i in (footage_id(x) for x in footage_ids) if i is not None})

        def read(q: Queries) -> list[FootageFacts]:
            out = []
            for start in range(0, len(ids), 500):  # SQLite's host parameter limit
                for row in rows.footage_rows(q, ids[start:start + 500]):
                    if (item := _facts(q, row, details=True)) is not None:
                        out.append(item)
            return out

        return await self._store.read(read)

    async def every(self) -> AsyncIterator[FootageFacts]:
        """Every good file without its GPS track: the index needs officer, times and tags only."""

        def read(q: Queries) -> list[FootageFacts]:
            return [f for batch in rows.footage_batches(q) for row in batch
                    if (f := _facts(q, row, details=False)) is not None]

        for item in await self._store.read(read):
            yield item


def sequence_gaps(names: list[dict[str, Any]]) -> list[rules.SequenceGap]:
    """Gaps between the file indexes a device has shown (``…_0003.mp4``), noticed when the file after the
    gap was first seen. Names without an index are not part of a sequence."""
    seen: dict[str, dict[int, datetime]] = {}
    for row in names:
        match = _INDEX.search(row["file_name"])
        if match is None:
            continue
        at = from_iso(row["seen_at"])
        per = seen.setdefault(row["device_id"], {})
        index = int(match.group(1))
        per[index] = min(per.get(index, at), at)
    gaps = []
    for device_id, indexes in sorted(seen.items()):
        ordered = sorted(indexes)
        for before, after in itertools.pairwise(ordered):
            if after - before > 1:
                gaps.append(rules.SequenceGap(device_id, before + 1, after - before - 1, indexes[after]))
    return gaps


class StoreComplianceInputs:
    def __init__(self, store: Store, *, uplink: bool) -> None:
        self._store = store
        self._uplink = uplink  # without an uplink nothing can be acknowledged: the rule would only cry wolf

    async def announced_files(self) -> list[rules.AnnouncedFile]:
        found = await self._store.read(rows.announced)
        return [rules.AnnouncedFile(r["device_id"], r["file_name"],
                                    from_iso(r["duty_end"] or r["announced_at"]), ingested=False) for r in found]

    async def dock_states(self) -> list[rules.DockState]:
        found = await self._store.read(rows.dock_events)
        return [rules.DockState(r["device_id"], from_iso(r["device_ts"]) if r["kind"] == "undocked" else None)
                for r in found]

    async def clock_offsets(self) -> list[rules.ClockOffset]:
        found = await self._store.read(rows.clock_offsets)
        return [rules.ClockOffset(r["device_id"], float(r["offset_ms"]) / 1000.0) for r in found]

    async def sequence_gaps(self) -> list[rules.SequenceGap]:
        return sequence_gaps(await self._store.read(rows.file_names))

    async def awaiting_receipt(self) -> list[rules.AwaitingReceipt]:
        if not self._uplink:
            return []
        found = await self._store.read(rows.awaiting_receipt)
        return [rules.AwaitingReceipt(r["footage_id"], r["case_number"], from_iso(r["decided_at"])) for r in found]
