"""Every worked example in docs/cases.md gives exactly the decision written beside it."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.cases.config import MatchingConfig
from edge.cases.matching import decide
from edge.cases.model import CaseFacts, FootageFacts, Place, TrackPoint, Window, WindowLabel
from edge.timeutil import from_iso

DOC = Path(__file__).resolve().parents[2] / "docs" / "cases.md"
EXAMPLES = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)]


def case(raw: dict[str, Any]) -> CaseFacts:
    loc = raw.get("location")
    return CaseFacts(raw["number"], frozenset(raw["officers"]), tuple(
        Window(from_iso(w["start"]), from_iso(w["end"]) if w.get("end") else None,
               WindowLabel(w.get("label", "dispatched"))) for w in raw["windows"]),
        Place(loc["lat"], loc["lon"], loc["radius_m"]) if loc else None)


def footage(raw: dict[str, Any]) -> FootageFacts:
    start = from_iso(raw["start"])
    track = tuple(TrackPoint(start + timedelta(minutes=m), lat, lon) for m, lat, lon in raw.get("track", []))
    return FootageFacts("doc", raw["officer"], start, from_iso(raw["end"]), track, frozenset(raw.get("case_tags", [])))


def test_the_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize("example", EXAMPLES, ids=[str(i) for i in range(len(EXAMPLES))])
def test_worked_example(example: dict[str, Any]) -> None:
    settings = MatchingConfig(**example.get("settings", {}))
    got = {d.case_number: [d.outcome.value, d.rule, round(d.score.total, 2)]
           for d in decide(footage(example["footage"]), [case(c) for c in example["cases"]], settings)}
    assert got == example["expect"]
