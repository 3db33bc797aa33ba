"""The footage generator writes real, deterministic H.264/H.265 + AAC files (checked with Debian's ffprobe)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from devices.simulators.media import SUFFIX, make_realistic_segment, make_segment, truncate

FFPROBE = "/usr/bin/ffprobe"


def ffprobe(path: Path, *extra: str) -> dict[str, Any]:
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", *extra, str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("container", ["mp4", "mpegts", "matroska"])
@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_segment_is_real_and_deterministic(tmp_path: Path, codec: str, container: str) -> None:
    a = make_segment(tmp_path / f"a{SUFFIX[container]}", codec=codec, container=container, seed=3)  # type: ignore[arg-type]
    b = make_segment(tmp_path / f"b{SUFFIX[container]}", codec=codec, container=container, seed=3)  # type: ignore[arg-type]
    c = make_segment(tmp_path / f"c{SUFFIX[container]}", codec=codec, container=container, seed=4)  # type: ignore[arg-type]
    assert sha256(a) == sha256(b)
    assert sha256(a) != sha256(c)

    ref = ffprobe(a, "-count_packets")
    video, audio = ref["streams"]
    assert (
        ref["format"]["format_name"].split(",")[0]
        == {"mp4": "mov", "mpegts": "mpegts", "matroska": "matroska"}[container]
    )
    assert video["codec_name"] == {"h264": "h264", "h265": "hevc"}[codec]
    assert (video["width"], video["height"], video["avg_frame_rate"]) == (320, 240, "25/1")
    assert int(video["nb_read_packets"]) == 50  # 2 s at 25 fps
    assert (audio["codec_name"], audio["sample_rate"], audio["channels"]) == ("aac", "48000", 1)
    assert float(ref["format"]["duration"]) == pytest.approx(2.0, abs=0.1)


def test_gop_has_predicted_frames_and_one_keyframe_a_second(tmp_path: Path) -> None:
    path = make_segment(tmp_path / "gop.mp4", seconds=3.0, audio=False)
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-select_streams", "v", "-show_entries", "frame=pict_type,key_frame",
         "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    frames = json.loads(out)["frames"]
    keys = [i for i, f in enumerate(frames) if f["key_frame"] == 1]
    assert keys == [0, 25, 50]
    assert Counter(f["pict_type"] for f in frames)["P"] > 0  # not all-intra


def test_no_audio(tmp_path: Path) -> None:
    ref = ffprobe(make_segment(tmp_path / "mute.mkv", container="matroska", audio=False))
    assert [s["codec_type"] for s in ref["streams"]] == ["video"]


def test_faststart_puts_moov_first(tmp_path: Path) -> None:
    data = make_segment(tmp_path / "fs.mp4", faststart=True).read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")
    data = make_segment(tmp_path / "plain.mp4").read_bytes()
    assert data.index(b"mdat") < data.index(b"moov")


def test_truncate_by_fraction_and_by_bytes(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(1000))
    assert truncate(path, keep=0.25) == 250
    assert path.stat().st_size == 250
    assert truncate(path, keep=100) == 100
    assert truncate(path, keep=5000) == 100  # never grows a file
    assert path.stat().st_size == 100


@pytest.mark.slow
def test_realistic_segment_is_1080p_at_about_4_mbits(tmp_path: Path) -> None:
    fmt = ffprobe(make_realistic_segment(tmp_path / "real.mp4", seconds=2.0))
    video = fmt["streams"][0]
    assert (video["width"], video["height"]) == (1920, 1080)
    assert 3_000_000 < int(fmt["format"]["bit_rate"]) < 5_500_000
