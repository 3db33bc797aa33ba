"""A camera's ``file`` announcement that arrives after its upload: it fulfils the unannounced footage.

One way, body camera -> footage: the event writer calls ``announced`` inside the transaction that stores the
announcement, so the footage row's new facts, its custody entries, the outbox priority and the case domain's
"match this file again" marker commit together with it; the matching itself runs after the commit (the
same two steps as an ingest, through the same ``CaseHooks``).

The same seam brings a camera's hold that arrives after the footage (a ``mark_important`` naming it, an SOS
during it): ``camera_held`` applies it to the footage row in the event's own transaction (camera_holds.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from edge.bodycam.footage import accounting, camera_holds
from edge.bodycam.footage.committer import CaseHooks
from edge.store import Tx, custody, expected_footage
from edge.store import footage as rows
from edge.timeutil import from_iso, to_iso

log = logging.getLogger(__name__)

ACTOR = "system:bodycam"


def fulfil_late(tx: Tx, device_id: str, file_name: str, cases: CaseHooks | None) -> int | None:
    """Apply a just-stored announcement to the unannounced footage it describes (name, size and SHA-256
    all agree); returns the footage id, or None when no such footage is stored."""
    announced = expected_footage.get(tx, device_id, file_name)
    if announced is None or announced["fulfilled_at"] is not None:
        return None
    row = rows.unannounced_match(tx, device_id, file_name, announced["size_bytes"], announced["sha256"])
    if row is None:
        return None
    footage_id: int = row["id"]
    expected_footage.fulfil(tx, device_id, file_name, row["size"], row["sha256"], str(footage_id))
    who = accounting.attribute(tx, device_id, from_iso(announced["device_start"]))
    after = {"recorded_at": announced["device_start"], "recorded_end": announced["device_end"],
             "marked": bool(announced["marked"]), "officer_no": who.officer_no,
             "recorded_at_station": to_iso(who.recorded_at_station) if who.recorded_at_station else None,
             "clock_offset_ms": who.clock_offset_ms}
    rows.apply_announcement(tx, footage_id, **after)
    before = {"recorded_at": row["recorded_at"], "recorded_end": row["recorded_end"], "marked": bool(row["marked"]),
              "officer_no": row["officer_no"]}
    custody.append(tx, actor=ACTOR, action="footage.announced", subject=f"footage:{footage_id}",
                   reason="the camera's file announcement arrived after the upload and matches it (name, size, "
                          "SHA-256): the recording's times and mark now come from it",
                   details={"before": before, "after": after, "announced_at": announced["announced_at"],
                            "hold_reason": announced["hold_reason"]})
    camera_holds.apply(tx, footage_id, cause="the camera's late announcement of the file")
    if cases is not None:
        cases.owed(tx, footage_id)
    return footage_id


class LateAnnouncements:
    """The footage side of the body-camera event writer's seam: late announcements and late camera holds."""

    def __init__(self, cases: Callable[[], CaseHooks | None]) -> None:
        self._cases = cases  # looked up per call: the case domain is connected after this is built

    def announced(self, tx: Tx, device_id: str, file_name: str) -> Callable[[], Awaitable[None]] | None:
        hooks = self._cases()
        footage_id = fulfil_late(tx, device_id, file_name, hooks)
        if footage_id is None:
            return None

        async def after_commit() -> None:
            log.info("footage %d (%s/%s) fulfilled by a late announcement", footage_id, device_id, file_name)
            if hooks is not None:
                await hooks.ingested(footage_id)

        return after_commit

    def camera_held(self, tx: Tx, device_id: str, *, file_name: str | None = None,
                    covering: datetime | None = None) -> None:
        """A ``mark_important`` (naming ``file_name``) or ``sos`` (at ``covering``) event was just stored:
        footage already here that it covers is held now (camera_holds.py)."""
        found = set(rows.good_named(tx, device_id, file_name)) if file_name is not None else set()
        if covering is not None:
            found |= set(expected_footage.fulfilled_covering(tx, device_id, covering))
        what = f"mark_important naming {file_name}" if file_name is not None else "an SOS during the recording"
        for footage_id in sorted(found):
            camera_holds.apply(tx, footage_id, cause=f"the camera's {what}, received after the footage")
