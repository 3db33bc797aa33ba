"""The chain walk's fast body encoding is byte for byte the canonical JSON that append hashes."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from edge.custody import keys
from edge.custody.chain import GENESIS, ChainEntry, Checkpoint, body_text, canonical, checkpoint_message, walk
from edge.store.canonical import canonical_json

text = st.text(st.characters(codec="utf-8"), min_size=1)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                           lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=8)


@given(seq=st.integers(min_value=1, max_value=2**62), at=text, actor=text, action=text, subject=text, reason=text,
       details=st.dictionaries(st.text(), json_values, max_size=5))
def test_fast_body_equals_canonical_json(seq: int, at: str, actor: str, action: str, subject: str, reason: str,
                                         details: dict[str, object]) -> None:
    body = {"seq": seq, "at": at, "actor": actor, "action": action, "subject": subject, "reason": reason,
            "details": details}
    entry = ChainEntry(seq, at, actor, action, subject, reason, canonical_json(details), GENESIS, "")
    assert body_text(entry) == canonical_json(body) == canonical(body)


def test_details_stored_in_another_equivalent_form_still_verify() -> None:
    """Append stores canonical details; one written by hand with spaces is checked by its meaning."""
    from edge.custody.chain import entry_hash

    body = {"seq": 1, "at": "t", "actor": "a", "action": "b", "subject": "c", "reason": "r", "details": {"x": 1}}
    digest = entry_hash(GENESIS, body)
    entry = ChainEntry(1, "t", "a", "b", "c", "r", '{ "x" : 1 }', GENESIS, digest)
    assert walk([entry], []).ok
    odd = entry._replace(details="{not json")
    result = walk([odd], [])
    assert not result.ok and result.problem == "details are not valid JSON"


def test_checkpoints_out_of_order_are_refused(tmp_path: Path) -> None:
    key = keys.create_key(tmp_path / "k.pem")
    public = keys.public_b64(key)

    def signed(seq: int) -> Checkpoint:
        return Checkpoint(seq, "h", "t", "S", public, keys.sign(key, checkpoint_message("S", seq, "h", "t")))

    result = walk([], [signed(5), signed(3)], trusted_key=public)
    assert not result.ok and result.problem == "checkpoint at entry 3 is out of order (after one at entry 5)"
