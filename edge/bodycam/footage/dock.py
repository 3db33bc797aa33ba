"""Dock ingest (workstation mode): docked cameras' storage appears under ``dock_dir/<device id>/``.

Each scan copies every new, settled file (size and mtime unchanged for ``dock_settle_s``) into the footage
store: the copy is hashed while written, then the source is read a second time and must hash the same
(a flaky USB read or a file still changing is caught). The file then goes through the same commit as an
upload, and the device's manifest (files the camera may now erase) is rewritten. The source is never
modified or deleted. A copy cut by a crash is discarded at start-up and made again from the source.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any

from edge.alerts import Alert, AlertBus, Severity
from edge.bodycam.footage.committer import Ingestor
from edge.bodycam.footage.config import FootageConfig
from edge.bodycam.footage.layout import CHUNK, Layout, sha256_file, write_atomic
from edge.bodycam.footage.metrics import FootageMetrics
from edge.bodycam.footage.names import BadNameError, check_device_id, check_file_name
from edge.store import Store, Tx
from edge.store import footage as rows
from edge.timeutil import to_iso, utcnow

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
ACTOR_PREFIX = "system:dock"


def _copy_hashing(src: Path, dst: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with src.open("rb", buffering=0) as fin, dst.open("wb", buffering=0) as fout:
        while block := fin.read(CHUNK):
            digest.update(block)
            fout.write(block)
            size += len(block)
        os.fsync(fout.fileno())
    return digest.hexdigest(), size


def _listing(device_dir: Path) -> list[tuple[str, int, int, float]]:
    found = []
    for base, dirs, names in os.walk(device_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            path = Path(base) / name
            if name.startswith(".") or path.is_symlink():
                continue
            st = path.stat()
            found.append((str(path.relative_to(device_dir)), st.st_size, st.st_mtime_ns, st.st_mtime))
    return sorted(found)


class DockWatcher:
    def __init__(self, dock_dir: Path, store: Store, layout: Layout, ingestor: Ingestor, config: FootageConfig,
                 alerts: AlertBus, metrics: FootageMetrics) -> None:
        self.dock_dir = dock_dir
        self._store = store
        self._layout = layout
        self._ingestor = ingestor
        self._config = config
        self._alerts = alerts
        self._metrics = metrics
        self._scanning = asyncio.Lock()  # one scan at a time (the periodic one and a manual one)

    async def run(self) -> None:
        while True:
            try:
                await self.scan_once()
            except OSError as exc:  # the dock folder vanished or a camera was pulled mid-scan: next scan
                log.warning("dock scan failed: %s", exc)
            await asyncio.sleep(self._config.dock_scan_interval_s)

    async def scan_once(self) -> int:
        """One pass over every device folder; returns how many files were ingested."""
        async with self._scanning:
            return await self._scan()

    async def _scan(self) -> int:
        if not self.dock_dir.is_dir():
            return 0
        ingested = 0
        for device_dir in sorted(p for p in self.dock_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                device_id = check_device_id(device_dir.name)
            except BadNameError:
                log.warning("dock folder %s is not a device id; skipped", device_dir.name)
                continue
            ingested += await self._scan_device(device_id, device_dir)
        return ingested

    async def _scan_device(self, device_id: str, device_dir: Path) -> int:
        files = await asyncio.to_thread(_listing, device_dir)
        known = await self._store.read(lambda q: rows.dock_known(q, device_id))
        changed = 0
        now = time.time()
        for rel, size, mtime_ns, mtime in files:
            seen = known.get((rel, size, mtime_ns))
            if seen is not None and (seen["state"] != "failed" or seen["attempts"] >= MAX_ATTEMPTS):
                continue
            if now - mtime < self._config.dock_settle_s:
                continue  # still being written by the dock; next scan
            if size == 0:
                log.info("dock %s: %s is empty; not footage, left on the camera", device_id, rel)
                continue
            changed += await self._ingest(device_id, device_dir, rel, size, mtime_ns)
        if changed:
            await self.write_manifest(device_id)
        return changed

    async def _ingest(self, device_id: str, device_dir: Path, rel: str, size: int, mtime_ns: int) -> int:
        name = Path(rel).name
        try:
            check_file_name(name)
        except BadNameError as exc:
            log.warning("dock %s: %s refused: %s", device_id, rel, exc)
            return 0
        ingest_id = secrets.token_hex(16)
        values = {"id": ingest_id, "source": "dock", "device_id": device_id, "actor": f"{ACTOR_PREFIX}:{device_id}",
                  "file_name": name, "source_path": rel, "length": size, "marked": 0}

        def start(tx: Tx) -> None:
            rows.ingest_create(tx, values)
            rows.dock_record(tx, device_id=device_id, rel_path=rel, size=size, mtime_ns=mtime_ns,
                             ingest_id=ingest_id, state="copying")

        await self._store.write(start)
        src, part = device_dir / rel, self._layout.dock_part(ingest_id)
        try:
            copied_sha, copied = await asyncio.to_thread(_copy_hashing, src, part)
            second = await asyncio.to_thread(sha256_file, src)
        except OSError as exc:
            return await self._failed(device_id, rel, size, mtime_ns, ingest_id, f"copy failed: {exc}")
        if copied != size or second != copied_sha:
            return await self._failed(device_id, rel, size, mtime_ns, ingest_id,
                                      "the second read of the source differs from the copy (file changing or "
                                      "unreliable read); will retry")
        ingest = await self._store.read(lambda q: rows.ingest_get(q, ingest_id))
        assert ingest is not None
        ingest["declared_sha256"] = second
        await self._store.write(lambda tx: rows.ingest_update(tx, ingest_id, declared_sha256=second, received=size))
        outcome = await self._ingestor.finalize(ingest, part, copied_sha)
        await self._store.write(lambda tx: rows.dock_record(
            tx, device_id=device_id, rel_path=rel, size=size, mtime_ns=mtime_ns, ingest_id=ingest_id,
            state="done", sha256=copied_sha))
        self._metrics.dock_files.labels(outcome.state).inc()
        log.info("dock %s: %s ingested (%s, footage %d)", device_id, rel, outcome.state, outcome.footage_id)
        return 1

    async def _failed(self, device_id: str, rel: str, size: int, mtime_ns: int, ingest_id: str, detail: str) -> int:
        def write(tx: Tx) -> None:
            rows.ingest_update(tx, ingest_id, state="terminated")
            rows.dock_record(tx, device_id=device_id, rel_path=rel, size=size, mtime_ns=mtime_ns,
                             ingest_id=ingest_id, state="failed", detail=detail)

        await self._store.write(write)
        await asyncio.to_thread(self._layout.dock_part(ingest_id).unlink, missing_ok=True)
        self._metrics.dock_files.labels("failed").inc()
        log.warning("dock %s: %s: %s", device_id, rel, detail)
        await self._alerts.raise_alert(Alert(
            f"footage.dock_copy_failed:{device_id}", "footage.dock_copy_failed", Severity.WARNING,
            f"device:{device_id}", f"dock copy of {rel} failed: {detail}", {"path": rel}))
        return 0

    async def write_manifest(self, device_id: str) -> dict[str, Any]:
        done = await self._store.read(lambda q: rows.dock_done(q, device_id))
        manifest = {"device_id": device_id, "generated_at": to_iso(utcnow()),
                    "note": "files stored and hash-verified at the station; the camera may erase these",
                    "files": [{"path": r["rel_path"], "size": r["size"], "sha256": r["sha256"],
                               "footage_id": r["footage_id"], "ingested_at": r["updated_at"]} for r in done]}
        data = json.dumps(manifest, indent=1, ensure_ascii=False).encode()
        await asyncio.to_thread(write_atomic, self._layout.manifests / f"{device_id}.json", data)
        return manifest
