"""``station-edge sim central --seaweed`` as a technician runs it: the case feed, the ingest API and a SeaweedFS
with keys enforced, each printed with where its keys are; a fault armed from the command line; SIGTERM stops
everything, SeaweedFS included."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from devices.simulators.central import receipts
from devices.simulators.central.object_store import StoreAccess, s3_client


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line names ``text`` (our unique temp folder): none must outlive the sim."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def read_banner(process: subprocess.Popen[str], until: str, timeout: float = 90) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            pytest.fail(f"sim central exited early: {lines} {process.stderr.read() if process.stderr else ''}")
        lines.append(line.rstrip("\n"))
        if until in line:
            return lines
    pytest.fail(f"no {until!r} in {lines}")


def test_sim_central_with_seaweed_serves_ingest_and_stops_cleanly(tmp_path: Path) -> None:
    work = tmp_path / "central"
    with subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "sim", "central", "--port", "0", "--seaweed", "--dir", str(work),
         "--fault", "unavailable:1,retry_after=3,route=batch"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            banner = read_banner(process, "S3 (SeaweedFS)")
            assert any("/api/v1/ingest/batch" in line for line in banner)
            assert processes_mentioning(str(work))  # SeaweedFS runs with its data under --dir
            secrets = work / "secrets"  # what the banner points at
            asyncio.run(exchange(banner[0].split(" on ")[1].split("/api/")[0],
                                 json.loads((secrets / "station-keys.json").read_text())["ST-1"],
                                 (secrets / "receipt.key").read_bytes().strip(),
                                 json.loads((secrets / "s3-station.json").read_text())))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    assert process.returncode == 0
    deadline = time.monotonic() + 30
    while processes_mentioning(str(work)):
        assert time.monotonic() < deadline, "SeaweedFS outlived sim central"
        time.sleep(0.1)


async def exchange(url: str, api_key: str, receipt_key: bytes, s3: dict[str, str]) -> None:
    """A batch through the armed 503, then a real object in SeaweedFS and its verified receipt."""
    headers = {"Authorization": f"Bearer {api_key}"}
    body = {"items": [{"kind": "sos", "dedupe_key": "sos-1", "payload": {"device": "cam-0001"}}]}
    async with aiohttp.ClientSession() as session:
        for expected in (503, 200):  # the armed fault, then the real answer
            async with session.post(f"{url}/api/v1/ingest/batch", json=body,
                                    headers={**headers, "Idempotency-Key": "b-1"}) as answer:
                assert answer.status == expected
        data = os.urandom(100_000)
        async with s3_client(StoreAccess(s3["endpoint"], s3["access_key"], s3["secret_key"])) as client:
            await client.put_object(Bucket=s3["bucket"], Key="ST-1/clip.mp4", Body=data)
        manifest = {"station": "ST-1", "dedupe_key": "f-1", "bucket": s3["bucket"], "key": "ST-1/clip.mp4",
                    "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        async with session.post(f"{url}/api/v1/ingest/manifest", json=manifest, headers=headers) as answer:
            assert answer.status == 200
            receipt = (await answer.json())["receipt"]
    assert receipts.verify(receipt_key, receipts.FILE_RECEIPT_V1, receipts.FILE_FIELDS, receipt)
    assert receipt["sha256"] == manifest["sha256"]


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not JSON"), ('["a list"]', "expected a JSON object"), ('{"ST-1": ""}', "expected a JSON object")])
def test_bad_key_files_are_refused_with_a_clear_message(tmp_path: Path, content: str, message: str) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(content)
    result = subprocess.run([sys.executable, "-m", "edge.cli", "sim", "central", "--port", "0", "--ingest",
                             "--dir", str(tmp_path / "w"), "--station-keys", str(keys)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_a_short_receipt_key_and_a_bad_fault_spec_are_refused(tmp_path: Path) -> None:
    short = tmp_path / "receipt.key"
    short.write_text("short\n")
    for extra, message in ((["--receipt-key", str(short)], "at least 16 bytes"), (["--fault", "meteor"], "meteor")):
        result = subprocess.run([sys.executable, "-m", "edge.cli", "sim", "central", "--port", "0", "--ingest",
                                 "--dir", str(tmp_path / "w"), *extra], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
