"""The camera's holds (marked, SOS) on footage rows, whichever arrives first: the footage or the hold.

One path: ``apply`` puts on one footage row every hold the camera's own records give it and writes one
``footage.hold`` custody entry naming what it added; called again, it adds nothing. It runs inside the
transaction that brings the later side: the footage's registration (an ingest, a late announcement) or
the camera's ``mark_important`` / ``sos`` event (``LateAnnouncements.camera_held``).

The camera's records are its ``file`` announcement of exactly these bytes (``expected_footage.hold_reason``,
to which a later mark or covering SOS is added) and its ``mark_important`` events naming the file. An
upload's own claims are not among them. Holds put here are the camera's: no person may release them
(edge/store/holds.py ``camera_holds`` finds them by their words).
"""

from __future__ import annotations

import re
from typing import Any

from edge.store import Queries, Tx, custody, expected_footage, holds, outbox, telemetry
from edge.store import footage as rows
from edge.store.outbox import Priority

ACTOR = "system:bodycam"
REASONS = ("marked", "sos")
_WORD = re.compile(r"[\s,:]+")


def _words(text: str | None) -> set[str]:
    return set(_WORD.split(text or "")) & set(REASONS)


def camera_reasons(q: Queries, row: dict[str, Any]) -> set[str]:
    """Which of marked and SOS the camera's own records give this footage."""
    found: set[str] = set()
    for announced in expected_footage.for_footage(q, int(row["id"])):
        found |= _words(announced["hold_reason"])
    if telemetry.marked_file(q, row["device_id"], row["file_name"]):
        found.add("marked")
    return found


def apply(tx: Tx, footage_id: int, *, cause: str) -> set[str]:
    """Hold good footage for every camera reason not on its row yet; returns the reasons added."""
    row = rows.get(tx, footage_id)
    if row is None or row["state"] != "good":
        return set()  # quarantined footage is kept anyway; a deleted file cannot be held back
    on_row = _words(row["hold_reason"]) if row["hold"] else set()
    missing = camera_reasons(tx, row) - on_row
    if not missing:
        return set()
    held_by = holds.holders(row["hold_reason"]) + [f"camera: {reason}" for reason in sorted(missing)]
    rows.set_hold(tx, footage_id, hold=True, reason=",".join(held_by), retain_until=None)
    if "marked" in missing:
        rows.set_marked(tx, footage_id)
    custody.append(tx, actor=ACTOR, action="footage.hold", subject=f"footage:{footage_id}",
                   reason=f"held by the camera ({', '.join(sorted(missing))}): {cause}",
                   details={"added": sorted(missing), "holders": held_by,
                            "retain_until_before": row["retain_until"]})
    outbox.promote(tx, f"footage:{row['sha256']}", Priority.EVIDENCE)
    return missing
