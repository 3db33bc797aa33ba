"""Export a bundle and verify it offline (no database, no config), through the real CLI, then break
copies of it the ways a forger would: each fails with its own message."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from support.custody import bulk_log, cli, config_file, make_log

from edge.custody import keys
from edge.custody.chain import checkpoint_message, entry_hash


@pytest.fixture
async def bundle(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    await make_log(data, 30, checkpoint_at=(10, 20))
    out = tmp_path / "export" / "custody.jsonl.gz"
    out.parent.mkdir()
    result = cli("audit", "export", "--config", str(config_file(tmp_path, data)), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "30 entries, 3 checkpoint(s)" in result.stdout
    return out


def _offline(path: Path, *extra: str) -> tuple[int, str]:
    """Verify from a directory holding only the bundle: nothing else to lean on."""
    result = cli("audit", "verify", "--bundle", path.name, *extra, cwd=path.parent)
    return result.returncode, result.stdout + result.stderr


def _lines(path: Path) -> list[dict[str, object]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _write(path: Path, records: list[dict[str, object]]) -> Path:
    copy = path.with_name("copy.jsonl.gz")
    with gzip.open(copy, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    return copy


def test_an_exported_bundle_verifies_offline(bundle: Path) -> None:
    records = _lines(bundle)
    assert [r["type"] for r in records[:4]] == ["header", "checkpoint", "checkpoint", "checkpoint"]
    assert records[-1] == {"type": "end", "entries": 30, "head_hash": records[-2]["hash"]}
    code, out = _offline(bundle)
    assert code == 0, out
    assert "custody log intact: 30 entries" in out and "3 signed checkpoint(s) verified, the last at entry 30" in out


def test_the_bundle_pins_to_the_station_key_from_audit_pubkey(bundle: Path, tmp_path: Path) -> None:
    pem = cli("audit", "pubkey", "--config", str(tmp_path / "edge.toml")).stdout
    (bundle.parent / "station.pub").write_text(pem)
    code, out = _offline(bundle, "--pubkey", "station.pub", "--json")
    assert code == 0 and json.loads(out)["key_pinned"] is True


def test_a_rewritten_copy_fails_naming_the_entry(bundle: Path) -> None:
    records = _lines(bundle)
    records[15]["reason"] = "nothing to see"  # entry 12, hashes left as they were
    code, out = _offline(_write(bundle, records))
    assert code == 1 and "BROKEN at entry 12: content does not match its hash (altered)" in out


def test_a_rechained_copy_fails_at_the_checkpoint_it_contradicts(bundle: Path) -> None:
    records = _lines(bundle)
    entries = [r for r in records if r["type"] == "entry"]
    prev = str(entries[11]["prev_hash"])
    for entry in entries[11:]:  # rewrite entry 12 and recompute every hash after it
        if entry["seq"] == 12:
            entry["reason"] = "nothing to see"
        entry["prev_hash"] = prev
        body = {k: entry[k] for k in ("seq", "at", "actor", "action", "subject", "reason", "details")}
        entry["hash"] = prev = entry_hash(prev, body)
    code, out = _offline(_write(bundle, records))
    assert code == 1 and "BROKEN at entry 20: disagrees with the checkpoint signed" in out
    assert "rewritten after entry 10" in out


def test_a_forged_checkpoint_signature_fails(bundle: Path) -> None:
    records = _lines(bundle)
    records[2]["hash"] = "f" * 64  # the checkpoint at entry 20 now vouches for another hash
    code, out = _offline(_write(bundle, records))
    assert code == 1 and "checkpoint at entry 20" in out and "has an invalid signature (forged or altered)" in out


def test_a_missing_entry_fails(bundle: Path) -> None:
    records = [r for r in _lines(bundle) if r.get("seq") != 7 or r["type"] != "entry"]
    code, out = _offline(_write(bundle, records))
    assert code == 1 and "BROKEN at entry 7: entry 7 is missing" in out


def test_missing_entries_at_the_end_fail(bundle: Path) -> None:
    records = [r for r in _lines(bundle) if r["type"] != "entry" or int(r["seq"]) <= 26]  # type: ignore[call-overload]
    code, out = _offline(_write(bundle, records))
    assert code == 1 and "entries 27 to 30 are missing" in out


def test_a_wrong_public_key_in_the_header_fails(bundle: Path, tmp_path: Path) -> None:
    records = _lines(bundle)
    records[0]["public_key"] = keys.public_b64(keys.create_key(tmp_path / "other.pem"))
    code, out = _offline(_write(bundle, records))
    assert code == 1 and "checkpoint at entry 10 is signed by key" in out and "(wrong key)" in out


def test_a_bundle_signed_by_another_key_than_the_pinned_one_fails(bundle: Path, tmp_path: Path) -> None:
    other = keys.create_key(tmp_path / "other.pem")
    (bundle.parent / "expected.pub").write_text(keys.public_pem(other))
    code, out = _offline(bundle, "--pubkey", "expected.pub")
    assert code == 1 and "the bundle's public key" in out and "is not the expected key" in out


@pytest.mark.parametrize(("damage", "message"), [
    (lambda data: data[: len(data) // 2], "not a readable custody bundle"),
    (lambda data: b"not gzip at all", "not a readable custody bundle"),
    (lambda data: gzip.compress(b'{"type":"entry"}\n'), "does not start with a station-edge-custody-bundle header"),
    (lambda data: gzip.compress(gzip.decompress(data).rsplit(b"\n", 2)[0] + b"\n"), "truncated: it has no end line"),
], ids=["cut-in-half", "not-gzip", "no-header", "no-end-line"])
def test_a_damaged_file_is_named_as_such(bundle: Path, damage: object, message: str) -> None:
    copy = bundle.with_name("damaged.jsonl.gz")
    copy.write_bytes(damage(bundle.read_bytes()))  # type: ignore[operator]
    code, out = _offline(copy)
    assert code == 1 and message in out


def test_export_and_verify_from_a_bare_database_file(tmp_path: Path, bundle: Path) -> None:
    out = tmp_path / "from-db.jsonl.gz"
    result = cli("audit", "export", "--db", str(tmp_path / "data" / "station.db"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    code, text = _offline(out)
    assert code == 0, text
    assert _lines(out)[0]["public_key"] == _lines(bundle)[0]["public_key"]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("seq", "7", "entry fields of the wrong type"),
    ("actor", 42, "entry fields of the wrong type"),
    ("details", ["not", "an", "object"], "details are not a JSON object"),
])
def test_an_entry_of_the_wrong_shape_is_named(bundle: Path, field: str, value: object, message: str) -> None:
    records = _lines(bundle)
    records[10][field] = value  # entry 7
    code, out = _offline(_write(bundle, records))
    assert code == 1 and message in out and "bundle line 11" in out


def test_export_to_an_unwritable_place_says_so(tmp_path: Path, bundle: Path) -> None:
    result = cli("audit", "export", "--config", str(tmp_path / "edge.toml"), "--out", str(tmp_path / "no" / "b.gz"))
    assert result.returncode == 1 and "cannot write" in result.stderr and "No such file or directory" in result.stderr


@pytest.mark.slow
async def test_big_logs_show_progress_on_stderr(tmp_path: Path) -> None:
    data = tmp_path / "big"
    db = await make_log(data, 0, checkpoint_at=())
    bulk_log(db, 120_000)
    out = tmp_path / "big.jsonl.gz"
    export = cli("audit", "export", "--db", str(db), "--out", str(out))
    assert export.returncode == 0, export.stderr
    progress = [line for line in export.stderr.splitlines() if line.startswith("audit export: ")]
    assert progress[0].startswith("audit export: 20000/120000 entries (16 %)") and len(progress) >= 5
    verify = cli("audit", "verify", "--bundle", str(out))
    assert verify.returncode == 0 and "custody log intact: 120000 entries" in verify.stdout
    assert "audit verify: 60000/120000 entries (50 %)" in verify.stderr
    assert not [line for line in cli("audit", "verify", "--db", str(db)).stderr.splitlines()
                if not line.startswith("audit verify: ")]


def test_a_copy_re_signed_with_the_forgers_key_passes_only_unpinned_and_says_so(bundle: Path, tmp_path: Path
                                                                                ) -> None:
    """The attacker with the bundle (not the station key) rewrites an entry, re-chains, re-signs every
    checkpoint with a key of their own and names it in the header: consistent, but not the station's."""
    station_pub = cli("audit", "pubkey", "--config", str(tmp_path / "edge.toml")).stdout
    (bundle.parent / "station.pub").write_text(station_pub)
    forger = keys.create_key(tmp_path / "forger.pem")
    records = _lines(bundle)
    records[0]["public_key"] = keys.public_b64(forger)
    prev, hashes = "0" * 64, {}
    for r in records:
        if r["type"] == "entry":
            if r["seq"] == 5:
                r["reason"] = "rewritten by the forger"
            body = {k: r[k] for k in ("seq", "at", "actor", "action", "subject", "reason", "details")}
            r["prev_hash"], r["hash"] = prev, entry_hash(prev, body)
            prev = hashes[r["seq"]] = r["hash"]
    for r in records:
        if r["type"] == "checkpoint":
            r["hash"], r["public_key"] = hashes[r["seq"]], keys.public_b64(forger)
            r["signature"] = keys.sign(forger, checkpoint_message(str(r["station"]), int(str(r["seq"])),
                                                                  str(r["hash"]), str(r["at"])))
        if r["type"] == "end":
            r["head_hash"] = prev
    forged = _write(bundle, records)
    code, out = _offline(forged)
    assert code == 0 and "not the station's" in out and "--pubkey" in out, out
    code, out = _offline(forged, "--pubkey", "station.pub")
    assert code == 1 and "is not the expected key" in out, out
    code, out = _offline(bundle, "--pubkey", "station.pub")  # the real one, pinned: no such caveat
    assert code == 0 and "not the station's" not in out, out
