"""A docking workstation: makes a camera's storage appear under ``<mount>/<device id>/`` with real segments.

    fill_dock(Path("/srv/dock"), "cam-0001", count=3)      # three 2 s H.264/AAC MP4 segments

Files are written under a hidden temporary name and renamed, as a copy finishing would make them appear.
Marked files (``marked_every``) get ``_IMP`` in their name and a sidecar ``<name>.json`` saying
``"marked": true`` (docs/footage.md, "Dock").
The station only reads these folders; it writes its manifest of erasable files under its own footage dir.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from devices.simulators.media import make_segment


def fill_dock(mount: Path, device_id: str, *, count: int = 3, seconds: float = 2.0, seed: int = 0,
              marked_every: int = 0) -> list[Path]:
    folder = mount / device_id / "DCIM" / "100BWC"
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(count):
        name = f"{device_id}_{seed + i:05d}{'_IMP' if marked_every and i % marked_every == 0 else ''}.mp4"
        tmp = folder / f".{name}.tmp"
        make_segment(tmp, seconds=seconds, seed=seed + i)
        final = folder / name
        tmp.rename(final)
        if "_IMP" in name:  # the camera's own word that it is marked: a sidecar like its MQTT announcement
            sidecar = folder / f"{name}.json"
            sidecar.write_text(json.dumps({"name": name, "marked": True, "size_bytes": final.stat().st_size,
                                           "sha256": hashlib.sha256(final.read_bytes()).hexdigest()}))
        made.append(final)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="station-edge sim dock", description=__doc__.splitlines()[0])
    parser.add_argument("--mount", type=Path, required=True, help="the dock directory the station watches")
    parser.add_argument("--device", action="append", required=True, help="camera id (repeat for several)")
    parser.add_argument("--count", type=int, default=3, help="segments per camera (default 3)")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each segment (default 2 s)")
    parser.add_argument("--seed", type=int, default=0, help="first seed (different seeds, different bytes)")
    args = parser.parse_args(argv)
    for device in args.device:
        for path in fill_dock(args.mount, device, count=args.count, seconds=args.seconds, seed=args.seed):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
