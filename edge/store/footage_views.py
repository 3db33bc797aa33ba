"""``footage.view`` custody entries: a person read footage metadata (SQL only).

One read is one entry, however many files it returned, so listings stay cheap: a read of one file has
the subject ``footage:<id>``; a read of several has the subject ``footage:list`` and names every id in
``details.ids``, with the route and the query that produced them. ``views_of`` finds both kinds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from edge.store import custody
from edge.store.queries import Queries, Tx

ACTION = "footage.view"
LIST_SUBJECT = "footage:list"


def record(tx: Tx, *, actor: str, footage_ids: Iterable[int | str], where: str, route: str,
           query: Mapping[str, str]) -> custody.CustodyEntry | None:
    """One entry for one read; None when the read returned no file (nothing was seen)."""
    ids = sorted({int(i) for i in footage_ids if str(i).isdigit()})
    if not ids:
        return None
    subject = f"footage:{ids[0]}" if len(ids) == 1 else LIST_SUBJECT
    details: dict[str, Any] = {"ids": ids, "route": route, "query": dict(query)}
    return custody.append(tx, actor=actor, action=ACTION, subject=subject, reason=f"metadata read via {where}",
                          details=details)


def views_of(q: Queries, footage_id: int) -> list[custody.CustodyEntry]:
    """Every ``footage.view`` entry that covered this file (its own, and the listings that included it)."""
    found = q.all(
        "SELECT * FROM custody_log WHERE action = ? AND (subject = ? OR (subject = ? AND EXISTS"
        " (SELECT 1 FROM json_each(custody_log.details, '$.ids') WHERE value = ?))) ORDER BY seq",
        (ACTION, f"footage:{footage_id}", LIST_SUBJECT, footage_id))
    return [custody.CustodyEntry(r["seq"], r["at"], r["actor"], r["action"], r["subject"], r["reason"],
                                 json.loads(r["details"]), r["prev_hash"], r["hash"]) for r in found]
