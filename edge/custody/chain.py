"""The custody chain and its checkpoints, verified the same way over database rows and over a bundle.

Pure: no database, no files. An entry's hash is SHA-256 over ``prev_hash + "\\n" + canonical JSON`` of
``{seq, at, actor, action, subject, reason, details}``, canonical JSON being sorted keys, no spaces,
UTF-8 kept as is (``edge.store.canonical``). ``walk`` stops at and names the first entry that does not
check out: missing, relinked, altered, or disagreeing with a signed checkpoint.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any, NamedTuple

from edge.custody.keys import fingerprint, signature_valid

GENESIS = "0" * 64

# Same settings as edge.store.canonical.canonical_json (a test holds them equal); one encoder object
# reused, since building one per call costs more than the encoding itself.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
canonical = _CANONICAL.encode


class ChainEntry(NamedTuple):
    """One entry as stored: ``details`` is its canonical JSON text."""

    seq: int
    at: str
    actor: str
    action: str
    subject: str
    reason: str
    details: str
    prev_hash: str
    hash: str


class EntryFormatError(Exception):
    """An entry could not even be read (raised by an entry source while ``walk`` iterates it)."""

    def __init__(self, seq: int | None, problem: str) -> None:
        super().__init__(problem)
        self.seq = seq
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    station: str
    public_key: str  # base64, raw 32 bytes
    signature: str  # base64, 64 bytes
    countersignature: str | None = None


def checkpoint_message(station: str, seq: int, entry_hash: str, at: str) -> bytes:
    """The exact bytes a checkpoint signature covers (documented in docs/custody.md)."""
    return f"station-edge custody checkpoint v1\nstation={station}\nseq={seq}\nhash={entry_hash}\nat={at}".encode()


def entry_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical(body)}".encode()).hexdigest()


def body_text(e: ChainEntry) -> str:
    """The canonical JSON of an entry's body, built around its stored details text (which append wrote
    canonically) instead of parsing and re-encoding them: keys in sorted order, strings as json does."""
    enc = encode_basestring
    return (f'{{"action":{enc(e.action)},"actor":{enc(e.actor)},"at":{enc(e.at)},"details":{e.details},'
            f'"reason":{enc(e.reason)},"seq":{int(e.seq)},"subject":{enc(e.subject)}}}')


def _content_matches(e: ChainEntry) -> bool | str:
    """The slow path once the fast one failed: details stored in another (but equivalent) JSON form,
    or fields of odd types. True/False, or a problem text when the entry cannot be hashed at all."""
    try:
        details = json.loads(e.details)
    except (TypeError, ValueError):
        return "details are not valid JSON"
    body = {"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "subject": e.subject,
            "reason": e.reason, "details": details}
    try:
        return entry_hash(e.prev_hash, body) == e.hash
    except (TypeError, ValueError):
        return "content cannot be hashed"


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    entries: int
    head_hash: str
    broken_seq: int | None = None
    problem: str = ""
    checkpoints: int = 0
    last_checkpoint_seq: int | None = None
    key: str | None = None  # fingerprint of the key the checkpoints were checked against
    key_pinned: bool = False  # that key came from outside what was verified (config, --pubkey)
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        if not self.ok:
            if self.broken_seq is None:
                return f"custody log BROKEN: {self.problem} ({self.entries} entries checked)"
            return (f"custody log BROKEN at entry {self.broken_seq}: {self.problem} "
                    f"({self.entries} entries checked before it)")
        anchored = (f"{self.checkpoints} signed checkpoint(s) verified, the last at entry {self.last_checkpoint_seq}"
                    if self.checkpoints else "no signed checkpoint yet: nothing outside the log anchors it")
        text = f"custody log intact: {self.entries} entries, head {self.head_hash}; {anchored}"
        if self.checkpoints and not self.key_pinned:
            # Whoever rewrites a bundle can re-sign it with a key of their own and name that key in it.
            anchored_by = (f"checked against the key the log names ({self.key}), not the station's: this proves "
                           "consistency, not origin; pin the station key with --pubkey (or --config)")
            return "; ".join([text, anchored_by, *self.notes])
        return "; ".join([text, *self.notes])

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "head_hash": self.head_hash, "broken_seq": self.broken_seq,
                "problem": self.problem, "checkpoints": self.checkpoints,
                "last_checkpoint_seq": self.last_checkpoint_seq, "key": self.key, "key_pinned": self.key_pinned,
                "notes": list(self.notes)}


def check_signatures(checkpoints: Sequence[Checkpoint], trusted_key: str | None) -> tuple[int, str] | None:
    """(seq, problem) for the first checkpoint not validly signed by ``trusted_key``, else None.
    Without a trusted key each checkpoint is checked against the key it names (which must be one key)."""
    key = trusted_key or (checkpoints[0].public_key if checkpoints else None)
    previous = 0
    for cp in checkpoints:
        if cp.seq <= previous:
            return cp.seq, f"checkpoint at entry {cp.seq} is out of order (after one at entry {previous})"
        previous = cp.seq
        if cp.public_key != key:
            return cp.seq, (f"checkpoint at entry {cp.seq} is signed by key {fingerprint(cp.public_key)}, "
                            f"not the station key {fingerprint(key or '')} (wrong key)")
        if not signature_valid(cp.public_key, cp.signature, checkpoint_message(cp.station, cp.seq, cp.hash, cp.at)):
            return cp.seq, f"checkpoint at entry {cp.seq} (signed {cp.at}) has an invalid signature (forged or altered)"
    return None


def walk(
    entries: Iterable[ChainEntry],
    checkpoints: Sequence[Checkpoint],
    *,
    trusted_key: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Verification:
    """Verify checkpoint signatures, then the chain in order, passing through every checkpoint."""
    key = trusted_key or (checkpoints[0].public_key if checkpoints else None)
    key_name, pinned = (fingerprint(key) if key else None), trusted_key is not None
    agreed: Checkpoint | None = None  # the last checkpoint the chain passed through
    prev, expected_seq, checked = GENESIS, 1, 0

    def broken(seq: int | None, problem: str) -> Verification:
        return Verification(False, checked, prev, seq, problem, 0, agreed.seq if agreed else None, key_name, pinned)

    bad = check_signatures(checkpoints, trusted_key)
    if bad is not None:
        return broken(None, bad[1])
    anchors = {cp.seq: cp for cp in checkpoints}
    sha256 = hashlib.sha256
    try:
        for e in entries:
            seq = e.seq
            if seq != expected_seq:
                return broken(expected_seq, f"entry {expected_seq} is missing" if seq > expected_seq
                              else f"entry {seq} is out of order")
            if e.prev_hash != prev:
                return broken(seq, "previous-hash link does not match")
            try:
                fast = sha256(f"{prev}\n{body_text(e)}".encode()).hexdigest() == e.hash
            except (TypeError, ValueError):
                fast = False
            if not fast and (matches := _content_matches(e)) is not True:
                return broken(seq, matches if isinstance(matches, str) else "content does not match its hash (altered)")
            anchor = anchors.get(seq)
            if anchor is not None:
                if anchor.hash != e.hash:
                    since = f"after entry {agreed.seq}, " if agreed else ""
                    return broken(seq, f"disagrees with the checkpoint signed {anchor.at} (entry hash {e.hash[:16]}…, "
                                       f"checkpoint {anchor.hash[:16]}…): the chain was rewritten {since}at or before "
                                       "this entry")
                agreed = anchor
            prev, expected_seq, checked = e.hash, seq + 1, checked + 1
            if progress is not None and checked % 10_000 == 0:
                progress(checked)
    except EntryFormatError as exc:
        return broken(exc.seq, exc.problem)
    last = checkpoints[-1] if checkpoints else None
    if last is not None and last.seq >= expected_seq:
        return broken(expected_seq, f"entries {expected_seq} to {last.seq} are missing: the log ends at entry "
                                    f"{expected_seq - 1}, but the checkpoint signed {last.at} covers entry {last.seq} "
                                    "(entries deleted from the end)")
    notes: tuple[str, ...] = ()
    if last is not None and checked > last.seq:
        newer = checked - last.seq
        notes = (f"{newer} newer entr{'y' if newer == 1 else 'ies'} not yet checkpointed",)
    return Verification(True, checked, prev, None, "", len(checkpoints), last.seq if last else None, key_name,
                        pinned, notes)
