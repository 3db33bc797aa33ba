"""Custody log: chain verification, checkpoint signing, bundle export and offline verification, and the
size of a bundle of a 1M-entry log. Every baseline is measured in the same run.

Prints ``name: ours X, baseline Y, ratio Z`` lines, then the bundle size. The log (default 1,000,000
entries with realistic details and a signed checkpoint every 1000) is written straight into a migrated
database in one transaction: the append-only trigger checks every row on the way in.

Usage: bench/custody.py [ENTRIES]
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.custody import bundle, keys
from edge.custody.chain import GENESIS, checkpoint_message, signature_valid
from edge.store import Store, checkpoints, custody
from edge.store.canonical import canonical_json
from edge.store.custody_io import export_file, verify_file
from edge.timeutil import to_iso, utcnow

ENTRIES = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
EVERY = 1000
STATION = "ST-BENCH"


def realistic(n: int) -> tuple[str, str, str, str, dict[str, object]]:
    """(actor, action, subject, reason, details) in the mix a station writes: views dominate."""
    footage = n // 7 + 1
    kind = n % 7
    if kind == 0:
        return (f"device:cam-{n % 400:04d}", "footage.ingested", f"footage:{footage}",
                "upload ingest, SHA-256 verified",
                {"sha256": hashlib.sha256(str(n).encode()).hexdigest(), "size": 734_003_200 + n,
                 "file_name": f"CAM{n % 400:04d}_20261201_{n % 86400:06d}.mp4", "device_id": f"cam-{n % 400:04d}",
                 "source": "upload", "ingest_id": n})
    if kind == 1:
        return ("system:cases", "case.link", f"footage:{footage}", "matched case 2026-0042 (score 0.91)",
                {"case": "2026-0042", "score": 0.91, "officer_no": "A10234"})
    return ("supervisor:li", "footage.view", f"footage:{footage}", "case review 2026-0042",
            {"route": f"/api/v1/footage/{footage}", "ids": [footage]})


def build(db: Path, key: Ed25519PrivateKey) -> tuple[list[bytes], float]:
    """Write the log and its checkpoints; return the exact bytes each hash covers (for the baseline)."""
    public = keys.public_b64(key)
    messages: list[bytes] = []
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    prev = GENESIS
    at = to_iso(utcnow())
    rows: list[tuple[object, ...]] = []
    for seq in range(1, ENTRIES + 1):
        actor, action, subject, reason, details = realistic(seq)
        body = {"seq": seq, "at": at, "actor": actor, "action": action, "subject": subject, "reason": reason,
                "details": details}
        message = f"{prev}\n{canonical_json(body)}".encode()
        digest = hashlib.sha256(message).hexdigest()
        messages.append(message)
        rows.append((seq, at, actor, action, subject, reason, canonical_json(details), prev, digest))
        prev = digest
        if seq % EVERY == 0 or seq == ENTRIES:
            conn.executemany("INSERT INTO custody_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            rows.clear()
            signature = keys.sign(key, checkpoint_message(STATION, seq, digest, at))
            conn.execute("INSERT INTO custody_checkpoint (seq, hash, at, station, public_key, signature)"
                         " VALUES (?, ?, ?, ?, ?, ?)", (seq, digest, at, STATION, public, signature))
    conn.execute("COMMIT")
    conn.close()
    return messages, time.perf_counter() - start


def line(name: str, ours: float, baseline: float, unit: str, note: str = "") -> None:
    print(f"{name}: ours {ours:,.0f} {unit}, baseline {baseline:,.0f} {unit}, ratio {ours / baseline:.2f}"
          + (f" ({note})" if note else ""))


def bench_verify(db: Path, public: str, messages: list[bytes]) -> None:
    start = time.perf_counter()
    result = verify_file(db, public_key=public)
    ours = time.perf_counter() - start
    if not (result.ok and result.entries == ENTRIES):
        raise SystemExit(result.describe())
    start = time.perf_counter()
    sha = hashlib.sha256
    for message in messages:
        sha(message).hexdigest()
    base = time.perf_counter() - start
    line("custody_verify", ENTRIES / ours, ENTRIES / base, "entries/s",
         "baseline: bare hashlib SHA-256 over the same canonical bodies, in memory")
    print(f"custody_verify_time: {ours:.1f} s for {ENTRIES:,} entries and {result.checkpoints} checkpoints "
          "(database read, canonical bodies, SHA-256, signatures, guard SQL)")


def bench_signing(key: Ed25519PrivateKey, public: str) -> None:
    n = 20_000
    messages = [checkpoint_message(STATION, i, "ab" * 32, "2026-12-01T00:00:00.000000Z") for i in range(n)]
    start = time.perf_counter()
    signatures = [keys.sign(key, m) for m in messages]
    ours = n / (time.perf_counter() - start)
    start = time.perf_counter()
    for m in messages:
        key.sign(m)
    base = n / (time.perf_counter() - start)
    line("custody_checkpoint_sign", ours, base, "signatures/s")
    start = time.perf_counter()
    assert all(signature_valid(public, s, m) for s, m in zip(signatures, messages, strict=True))
    ours = n / (time.perf_counter() - start)
    raw = key.public_key()
    import base64

    start = time.perf_counter()
    for s, m in zip(signatures, messages, strict=True):
        raw.verify(base64.b64decode(s), m)
    base = n / (time.perf_counter() - start)
    line("custody_checkpoint_verify", ours, base, "signatures/s")


async def bench_checkpoint_writes(tmp: Path, key_path: Path) -> None:
    """A checkpoint through the Store (head read, sign, row, outbox row, FULL commit) vs a bare append."""
    from edge.custody.config import CustodyConfig
    from edge.custody.service import CheckpointService

    n = 300
    store = Store(tmp / "writes.db")
    await store.open()
    service = CheckpointService(CustodyConfig(key_file=key_path), store, STATION, tmp)
    try:
        async with service:
            start = time.perf_counter()
            for i in range(n):
                await store.write(lambda tx, i=i: custody.append(tx, actor="a", action="b", subject=f"s{i}",
                                                                 reason="r"))
            base = n / (time.perf_counter() - start)
            start = time.perf_counter()
            for i in range(n):
                await store.write(lambda tx, i=i: custody.append(tx, actor="a", action="b", subject=f"s{i}",
                                                                 reason="r"))
                await service.checkpoint_now()
            ours = n / (time.perf_counter() - start)
            assert await store.read(checkpoints.latest) is not None
    finally:
        await store.close()
    line("custody_checkpoint_write", ours, base, "appends/s", "ours: append + checkpoint each; baseline: append alone")


def bench_export(db: Path, public: str, out: Path) -> None:
    start = time.perf_counter()
    summary = export_file(db, out, station=STATION, public_key=public)
    ours = time.perf_counter() - start
    raw_out = out.with_name("baseline.tsv.gz")
    start = time.perf_counter()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    with gzip.open(raw_out, "wt", compresslevel=6, encoding="utf-8") as f:
        for row in conn.execute("SELECT * FROM custody_log ORDER BY seq"):
            f.write("\t".join(map(str, row)) + "\n")
    conn.close()
    base = time.perf_counter() - start
    line("custody_export", ENTRIES / ours, ENTRIES / base, "entries/s", "baseline: the same rows as TSV into gzip")
    per = summary.size / ENTRIES
    label = "" if ENTRIES == 1_000_000 else f" (extrapolated from {ENTRIES:,} entries: {per * 1e6 / 2**20:.0f} MiB)"
    print(f"custody_bundle_size: {summary.size:,} bytes for {ENTRIES:,} entries and {summary.checkpoints} checkpoints, "
          f"{per:.0f} bytes/entry{label}; baseline TSV.gz {raw_out.stat().st_size:,} bytes")


def bench_bundle_verify(out: Path) -> None:
    start = time.perf_counter()
    _, result = bundle.verify(out)
    ours = time.perf_counter() - start
    if not (result.ok and result.entries == ENTRIES):
        raise SystemExit(result.describe())
    start = time.perf_counter()
    with gzip.open(out, "rt", encoding="utf-8") as f:
        for text in f:
            record = json.loads(text)
            if record["type"] == "entry":
                hashlib.sha256(text.encode()).hexdigest()
    base = time.perf_counter() - start
    line("custody_bundle_verify", ENTRIES / ours, ENTRIES / base, "entries/s",
         "baseline: gunzip, parse and SHA-256 each line")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db = tmp / "station.db"

        async def migrate() -> None:
            store = Store(db)
            await store.open()
            await store.close()

        asyncio.run(migrate())
        key_path = tmp / "bench-key.pem"
        key = keys.create_key(key_path)
        public = keys.public_b64(key)
        messages, took = build(db, key)
        print(f"custody_build: {ENTRIES:,} entries and {ENTRIES // EVERY} checkpoints written in {took:.1f} s "
              "(through the append-only trigger)", file=sys.stderr)
        bench_verify(db, public, messages)
        del messages
        bench_signing(key, public)
        asyncio.run(bench_checkpoint_writes(tmp, key_path))
        out = tmp / "custody.jsonl.gz"
        bench_export(db, public, out)
        bench_bundle_verify(out)


if __name__ == "__main__":
    main()
