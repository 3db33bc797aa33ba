"""The uplink's S3 footage target against a real SeaweedFS: its config with key files, footage files on disk,
outbox entries to upload, a proxy that cuts the link in the middle of a part, and a child process that runs
the target (to be SIGKILLed mid-upload)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

from edge.store import Store
from edge.store.outbox import FileRef, OutboxEntry, Priority, enqueue
from edge.uplink.s3_config import S3Config
from support.tcp_proxy import TcpProxy

MIB = 1 << 20
STATION = "ST-1"
DAY = date(2026, 3, 1)


def s3_config(directory: Path, endpoint: str, access_key: str, secret_key: str, **options: Any) -> S3Config:
    directory.mkdir(parents=True, exist_ok=True)
    key_id, secret = directory / "s3-access-key-id", directory / "s3-secret-key"
    key_id.write_text(access_key + "\n")
    secret.write_text(secret_key + "\n")
    return S3Config(endpoint_url=endpoint, bucket="footage", access_key_id_file=key_id,
                    secret_access_key_file=secret, **{"part_size_mib": 5, **options})


def footage_file(directory: Path, size: int) -> FileRef:
    directory.mkdir(parents=True, exist_ok=True)
    data = os.urandom(size)
    path = directory / f"{hashlib.sha256(data).hexdigest()[:12]}.mp4"
    path.write_bytes(data)
    return FileRef(path, size, hashlib.sha256(data).hexdigest())


async def queued(store: Store, file: FileRef) -> int:
    """Queue the file as a routine footage entry; its outbox id."""
    def add(tx: Any) -> int:
        enqueue(tx, OutboxEntry("footage", Priority.ROUTINE, f"footage:{file.sha256}", file=file))
        return int(tx.scalar("SELECT id FROM outbox WHERE dedupe_key = ?", (f"footage:{file.sha256}",)))
    return await store.write(add)


class CuttingProxy(TcpProxy):
    """Cuts every connection (and refuses new ones) once ``armed`` bytes went upstream after ``arm()``: the
    link lost in the middle of a request body."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self._left: int | None = None
        self.cut_done = asyncio.Event()
        self.sent = bytearray()  # every byte sent upstream, when recording
        self.recording = False

    def arm(self, after_bytes: int) -> None:
        self._left = after_bytes

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, copy: bytearray) -> None:
        upstream = copy is self.upstream
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(65536):
                if upstream:
                    copy.clear()  # the base class's per-connection copy: not needed here
                    if self.recording:
                        self.sent += data
                writer.write(data)
                await writer.drain()
                if upstream and self._left is not None:
                    self._left -= len(data)
                    if self._left <= 0:
                        self._left = None
                        self.accepting = False
                        self.cut()
                        self.cut_done.set()
                        return


CHILD = """
import asyncio, json, sys, time
from pathlib import Path
from edge.store import Store
from edge.store.outbox import FileRef
from edge.uplink.s3_config import S3Config
from edge.uplink.targets.s3 import S3Credentials, S3FootageTarget
from datetime import date

async def main(spec):
    config = S3Config.model_validate(spec["config"])
    store = Store(Path(spec["db"]))
    await store.open()
    file = FileRef(Path(spec["path"]), spec["size"], spec["sha256"])
    def slow(done, total):
        time.sleep(spec["pause_s"])  # the parent kills this process between or during parts
    async with S3FootageTarget(config, S3Credentials.from_files(config), store, station_id=spec["station"]) as t:
        await t.upload(spec["entry"], file, recorded=date.fromisoformat(spec["day"]), idempotency_key="k",
                       progress=slow)
    await store.close()
    print("finished", flush=True)

asyncio.run(main(json.loads(sys.argv[1])))
"""


async def start_child(db: Path, config: S3Config, entry: int, file: FileRef, pause_s: float) -> Any:
    spec = {"config": config.model_dump(mode="json"), "db": str(db), "entry": entry, "path": str(file.path),
            "size": file.size, "sha256": file.sha256, "station": STATION, "day": DAY.isoformat(), "pause_s": pause_s}
    return await asyncio.create_subprocess_exec(sys.executable, "-c", CHILD, json.dumps(spec),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


class TlsFront:
    """TLS in front of a plain store (SeaweedFS here serves plain HTTP): terminates TLS with a test CA's
    certificate and forwards the bytes unchanged, so SigV4 signatures still verify."""

    def __init__(self, target_port: int, context: Any) -> None:
        self.target_port = target_port
        self.context = context
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            with contextlib.suppress(OSError, ConnectionError, RuntimeError):
                sink.close()
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
