"""Dock ingest (workstation mode): docked cameras' storage appears under ``dock_dir/<device id>/``.

Each scan copies every new, settled file (size and mtime unchanged for ``dock_settle_s``) into the footage
store: the copy is hashed while written, then the source is read a second time and must hash the same
(a flaky USB read or a file still changing is caught). The file then goes through the same commit as an
upload, and the device's manifest (files the camera may now erase) is rewritten. The source is never
modified or deleted. A copy cut by a crash is discarded at start-up and made again from the source.

Before a copy: the disk watermarks are checked as for uploads (routine footage waits on the camera while
the disk is critical; marked or SOS-covered footage is still taken). ``marked`` comes from the camera:
its sidecar (sidecar.py) or its MQTT ``file`` announcement. A device folder that is a symbolic link is
refused: it is not the docked camera's storage and could point anywhere on the workstation.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import secrets
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.alerts import Alert, AlertBus, Severity
from edge.bodycam.footage import sidecar
from edge.bodycam.footage.committer import Ingestor
from edge.bodycam.footage.config import FootageConfig
from edge.bodycam.footage.disk import DiskGuard
from edge.bodycam.footage.layout import CHUNK, Layout, sha256_file, write_atomic
from edge.bodycam.footage.metrics import FootageMetrics
from edge.bodycam.footage.names import BadNameError, check_device_id, check_file_name
from edge.store import Store, Tx
from edge.store import footage as rows
from edge.timeutil import to_iso, utcnow
from edge.web.problems import ProblemError

log = logging.getLogger(__name__)
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
            if name.startswith(".") or path.is_symlink() or sidecar.is_sidecar(name):
                continue
            st = path.stat()
            found.append((str(path.relative_to(device_dir)), st.st_size, st.st_mtime_ns, st.st_mtime))
    return sorted(found)


class DockWatcher:
    def __init__(self, dock_dir: Path, store: Store, layout: Layout, ingestor: Ingestor, config: FootageConfig,
                 alerts: AlertBus, metrics: FootageMetrics, disk: DiskGuard) -> None:
        self.dock_dir = dock_dir
        self._store = store
        self._layout = layout
        self._ingestor = ingestor
        self._config = config
        self._alerts = alerts
        self._metrics = metrics
        self._scanning = asyncio.Lock()  # one scan at a time (the periodic one and a manual one)
        self._disk = disk
        self._linked: dict[str, str] = {}  # symlinked device folders already reported (name -> target)
        self._waiting: set[tuple[str, str]] = set()  # files refused for disk space, reported once each
        self.last_scan_at: datetime | None = None  # end of the last finished scan

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
            try:
                return await self._scan()
            finally:
                self.last_scan_at = utcnow()

    async def _scan(self) -> int:
        if not self.dock_dir.is_dir():
            return 0
        ingested = 0
        entries = sorted(p for p in self.dock_dir.iterdir() if not p.name.startswith("."))
        linked = {p.name: p for p in entries if p.is_symlink()}
        for name, path in linked.items():
            self._refuse_link(name, path)
        for gone in set(self._linked) - set(linked):
            del self._linked[gone]
        for device_dir in (p for p in entries if p.name not in linked and p.is_dir()):
            try:
                device_id = check_device_id(device_dir.name)
            except BadNameError:
                log.warning("dock folder %s is not a device id; skipped", device_dir.name)
                continue
            ingested += await self._scan_device(device_id, device_dir)
        return ingested

    def _refuse_link(self, name: str, path: Path) -> None:
        try:
            target = str(path.readlink())
        except OSError as exc:
            target = f"? ({exc.strerror})"
        if self._linked.get(name) == target:
            return  # reported already; it stays refused while it is there
        self._linked[name] = target
        self._metrics.dock_refused.labels("symlink").inc()
        log.error("dock folder %s is a symbolic link (to %s); refused: a device folder must be the docked "
                  "camera's own storage, and a link could point anywhere on this workstation", name, target)

    async def _scan_device(self, device_id: str, device_dir: Path) -> int:
        files = await asyncio.to_thread(_listing, device_dir)
        known = await self._store.read(lambda q: rows.dock_known(q, device_id))
        changed = 0
        now = time.time()
        for rel, size, mtime_ns, mtime in files:
            seen = known.get((rel, size, mtime_ns))
            if seen is not None and (seen["state"] != "failed" or seen["attempts"] >= self._config.dock_max_attempts):
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
        src = device_dir / rel
        side, announced = await self._camera_says(device_id, src, name, size)
        marked = _marked(side, announced, name, size)
        evidence = marked or bool(announced and announced["size_bytes"] == size and announced["hold_reason"])
        try:
            self._disk.admit(size, evidence=evidence)
        except ProblemError as exc:
            if (device_id, rel) not in self._waiting:
                self._waiting.add((device_id, rel))
                self._metrics.dock_refused.labels("insufficient-storage").inc()
                log.warning("dock %s: %s left on the camera for now: %s", device_id, rel, exc.detail)
            return 0
        self._waiting.discard((device_id, rel))
        ingest_id = secrets.token_hex(16)
        values = {"id": ingest_id, "source": "dock", "device_id": device_id, "actor": f"{ACTOR_PREFIX}:{device_id}",
                  "file_name": name, "source_path": rel, "length": size, "marked": int(marked)}

        def start(tx: Tx) -> None:
            rows.ingest_create(tx, values)
            rows.dock_record(tx, device_id=device_id, rel_path=rel, size=size, mtime_ns=mtime_ns,
                             ingest_id=ingest_id, state="copying")

        await self._store.write(start)
        part = self._layout.dock_part(ingest_id)
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
        # Now that the hash is known: a sidecar or announcement of other bytes says nothing of this file.
        marked = _marked(side, announced, name, size, second)
        ingest.update(declared_sha256=second, marked=int(marked))
        await self._store.write(lambda tx: rows.ingest_update(tx, ingest_id, declared_sha256=second, received=size,
                                                              marked=int(marked)))
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
        with contextlib.suppress(OSError):  # the temporary copy may not exist, or not be reachable at all
            await asyncio.to_thread(self._layout.dock_part(ingest_id).unlink, missing_ok=True)
        self._metrics.dock_files.labels("failed").inc()
        known = await self._store.read(lambda q: rows.dock_known(q, device_id))
        tries = known[(rel, size, mtime_ns)]["attempts"]
        most = self._config.dock_max_attempts
        outcome = (f"giving up after {tries} tries; left on the camera until the file changes" if tries >= most
                   else f"try {tries} of {most}; retried at the next scan")
        log.warning("dock %s: %s: %s (%s)", device_id, rel, detail, outcome)
        await self._alerts.raise_alert(Alert(
            f"footage.dock_copy_failed:{device_id}", "footage.dock_copy_failed", Severity.WARNING,
            f"device:{device_id}", f"dock copy of {rel} failed: {detail} ({outcome})",
            {"path": rel, "attempts": tries, "max_attempts": most}))
        return 0

    async def _camera_says(self, device_id: str, src: Path, name: str, size: int
                           ) -> tuple[sidecar.Sidecar | None, dict[str, Any] | None]:
        """The recording's sidecar (if any, and usable) and its MQTT announcement (if any)."""
        announced = await self._store.read(lambda q: rows.announcement_for(q, device_id, name))
        path = src.with_name(sidecar.sidecar_name(name))
        try:
            data = await asyncio.to_thread(_read_sidecar, path)
        except OSError as exc:
            log.warning("dock %s: sidecar %s unreadable (%s); ignored", device_id, path.name, exc.strerror)
            return None, announced
        if data is None:
            return None, announced
        try:
            side = sidecar.parse(data)
        except sidecar.BadSidecarError as exc:
            log.warning("dock %s: sidecar %s ignored: %s", device_id, path.name, exc)
            return None, announced
        if (why := side.matches(name, size)) is not None:
            log.warning("dock %s: sidecar %s ignored: %s", device_id, path.name, why)
            return None, announced
        return side, announced

    async def write_manifest(self, device_id: str) -> dict[str, Any]:
        done = await self._store.read(lambda q: rows.dock_done(q, device_id))
        manifest = {"device_id": device_id, "generated_at": to_iso(utcnow()),
                    "note": "files stored and hash-verified at the station; the camera may erase these",
                    "files": [{"path": r["rel_path"], "size": r["size"], "sha256": r["sha256"],
                               "footage_id": r["footage_id"], "ingested_at": r["updated_at"]} for r in done]}
        data = json.dumps(manifest, indent=1, ensure_ascii=False).encode()
        await asyncio.to_thread(write_atomic, self._layout.manifests / f"{device_id}.json", data)
        return manifest


def _read_sidecar(path: Path) -> bytes | None:
    if path.is_symlink() or not path.is_file():
        return None
    with path.open("rb") as f:
        return f.read(sidecar.MAX_BYTES + 1)


def _marked(side: sidecar.Sidecar | None, announced: dict[str, Any] | None, name: str, size: int,
            sha256: str | None = None) -> bool:
    """Marked by the camera: its sidecar says so, or its announcement of these bytes does."""
    if side is not None and side.marked and side.matches(name, size, sha256) is None:
        return True
    if announced is None or not announced["marked"] or announced["size_bytes"] != size:
        return False
    return sha256 is None or announced["sha256"] == sha256
