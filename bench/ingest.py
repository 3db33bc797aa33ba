"""Footage ingest throughput: one 2 GiB tus upload over loopback, then 25 concurrent camera uploads.

Baseline, measured on the same data in the same run: min(SHA-256 rate of Python's hashlib (OpenSSL),
write + fsync rate to the same filesystem) — the two things an ingest must do to every byte.
The daemon runs as a subprocess (``station-edge run``); its RSS is sampled from /proc while uploading.
The client sends the body with sendfile() so that its own CPU does not eat the 2-core budget.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.simulators.uploader import metadata
from edge.broker import free_port
from edge.credentials import hash_secret
from edge.store import Store, devices

MiB = 1 << 20
BIG = 2048 * MiB
CAMERAS = 25
PER_CAMERA = 80 * MiB
SECRET = "bench-secret-0123"


def make_file(path: Path, size: int, tag: int) -> str:
    block = os.urandom(64 * MiB)
    digest = hashlib.sha256()
    with path.open("wb") as f:
        head = f"file {tag}".encode().ljust(4096, b"\0")
        f.write(head)
        digest.update(head)
        left = size - len(head)
        while left > 0:
            piece = block[: min(len(block), left)]
            f.write(piece)
            digest.update(piece)
            left -= len(piece)
    return digest.hexdigest()


def hash_rate(path: Path) -> float:
    digest = hashlib.sha256()
    size = path.stat().st_size
    start = time.perf_counter()
    with path.open("rb", buffering=0) as f:
        while block := f.read(4 * MiB):
            digest.update(block)
    return size / (time.perf_counter() - start)


def write_fsync_rate(path: Path, dest: Path) -> float:
    size = path.stat().st_size
    with path.open("rb", buffering=0) as f:
        data = [f.read(64 * MiB)]  # write the same bytes again and again: measures the disk, not the reader
    start = time.perf_counter()
    with dest.open("wb", buffering=0) as out:
        written = 0
        while written < size:
            chunk = data[0][: min(len(data[0]), size - written)]
            out.write(chunk)
            written += len(chunk)
        os.fsync(out.fileno())
    rate = size / (time.perf_counter() - start)
    dest.unlink()
    return rate


class Rss:
    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.peak = max(self.peak, int(line.split()[1]) * 1024)
            except OSError:
                return
            time.sleep(0.05)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def device(n: int = 0) -> str:
    return f"cam-{n:04d}"


def upload(port: int, path: Path, sha: str, n: int) -> float:
    import base64

    basic = "Basic " + base64.b64encode(f"{device(n)}:{SECRET}".encode()).decode()
    size = path.stat().st_size
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("POST", "/api/v1/uploads", headers={
        "Tus-Resumable": "1.0.0", "Authorization": basic, "Upload-Length": str(size),
        "Upload-Metadata": metadata(filename=path.name, sha256=sha)})
    response = conn.getresponse()
    response.read()
    assert response.status == 201, response.status
    location = response.getheader("Location")
    conn.close()
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock, path.open("rb") as f:
        head = (f"PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\nAuthorization: {basic}\r\n"
                f"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: {size}\r\n"
                "Connection: close\r\n\r\n")
        sock.sendall(head.encode())
        sent = 0
        while sent < size:
            sent += os.sendfile(sock.fileno(), f.fileno(), sent, size - sent)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    took = time.perf_counter() - start
    status_line = reply.split(b"\r\n", 1)[0]
    assert b" 204 " in status_line, reply[:500]
    assert b"Footage-State: complete" in reply, reply[:500]
    return took


async def enrol(db: Path) -> None:
    store = Store(db)
    await store.open()
    hashed = hash_secret(SECRET, iterations=1000)
    for n in range(CAMERAS + 1):
        await store.write(lambda tx, n=n: devices.add(tx, device_id=device(n), serial=f"{n:07d}", model="bench",
                                                      secret_hash=hashed))
    await store.close()


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-", dir="/work"))
    proc = None
    try:
        port = free_port()
        config = work / "edge.toml"
        config.write_text(f'[station]\nid = "BENCH"\ndata_dir = "{work / "data"}"\n[http]\nport = {port}\n'
                          '[services]\nmqtt = false\n[footage]\nhard_floor_mb = 0\nprobe_workers = 1\n'
                          'high_watermark_pct = 99\ncritical_watermark_pct = 99.5\n[logging]\nlevel = "warning"\n')
        asyncio.run(enrol(work / "data" / "station.db"))
        big = work / "big.bin"
        sha = make_file(big, BIG, 0)
        (work / "data" / "footage").mkdir(parents=True, exist_ok=True)
        rate_hash = hash_rate(big)
        rate_write = write_fsync_rate(big, work / "data" / "footage" / "baseline.bin")
        baseline = min(rate_hash, rate_write)
        proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "run", "--config", str(config)],
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        rss = Rss(proc.pid)
        took = upload(port, big, sha, 0)
        ours = BIG / took
        peak_single = rss.stop()
        big.unlink()
        print(f"baseline parts: sha256 {rate_hash / 1e6:.0f} MB/s, write+fsync {rate_write / 1e6:.0f} MB/s")
        print(f"ingest_2gib_single: ours {ours / 1e6:.0f} MB/s, baseline {baseline / 1e6:.0f} MB/s, "
              f"ratio {ours / baseline:.2f}")
        files = []
        for n in range(1, CAMERAS + 1):
            path = work / f"cam{n}.bin"
            files.append((path, make_file(path, PER_CAMERA, n), n))
        rss = Rss(proc.pid)
        start = time.perf_counter()
        with ThreadPoolExecutor(CAMERAS) as pool:
            list(pool.map(lambda item: upload(port, *item), files))
        wall = time.perf_counter() - start
        peak_many = rss.stop()
        aggregate = CAMERAS * PER_CAMERA / wall
        print(f"ingest_25_cameras: ours {aggregate / 1e6:.0f} MB/s, baseline {baseline / 1e6:.0f} MB/s, "
              f"ratio {aggregate / baseline:.2f}")
        peak = max(peak_single, peak_many)
        print(f"daemon_rss_peak: ours {peak / 2**20:.0f} MiB, baseline 300 MiB, ratio {peak / (300 * 2**20):.2f}")
        print(json.dumps({"single_ratio": round(ours / baseline, 3), "many_ratio": round(aggregate / baseline, 3),
                          "rss_mib": round(peak / 2**20)}))
        return 0
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run(["chmod", "-R", "u+w", str(work)], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
