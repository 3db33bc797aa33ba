"""Media probe and thumbnails, checked against Debian's ffprobe as an independent reference.

Media is made once per module: by our PyAV generator and by the ffmpeg CLI (lavfi testsrc), H.264 and H.265,
in MP4, MPEG-TS and Matroska. ffmpeg/ffprobe are used here only; edge/ never runs them.

Tolerances (PyAV bundles FFmpeg 8, Debian ships 5.1, so derived figures can differ slightly):
- duration and start time: within 0.05 s (just over one frame at 25 fps; MP4 durations differ by ~1 ms);
- bit rate: within 2 % (FFmpeg derives it from size / duration);
- frame rate: within 0.01 fps; everything else (names, sizes, stream count) exactly.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import random
import subprocess
import time
from pathlib import Path
from typing import Any

import av
import pytest
from support.not_video import NOT_VIDEO, make_audio_with_cover_mp4, make_not_video, make_subtitles_mp4

from devices.simulators.media import SUFFIX, make_segment, truncate
from edge.bodycam.media import MediaInfo, MediaProber, PoolKind, probe_file, write_thumbnail

FFMPEG = "/usr/bin/ffmpeg"
FFPROBE = "/usr/bin/ffprobe"
CODECS = ("h264", "h265")
CONTAINERS = ("mp4", "mpegts", "matroska")
DURATION_TOL_S = 0.05
BITRATE_TOL = 0.02


def ffprobe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def ffmpeg_cli_segment(path: Path, codec: str) -> Path:
    encoder = {"h264": ["libx264"], "h265": ["libx265", "-x265-params", "log-level=error"]}[codec]
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2",
         "-f", "lavfi", "-i", "sine=frequency=1000:duration=2",
         "-c:v", *encoder, "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every good file, keyed "<maker>-<codec>-<container>"."""
    d = tmp_path_factory.mktemp("media")
    files: dict[str, Path] = {}
    for codec in CODECS:
        for fmt in CONTAINERS:
            name = f"{codec}-{fmt}"
            files[f"pyav-{name}"] = make_segment(d / f"pyav-{name}{SUFFIX[fmt]}", codec=codec, container=fmt)  # type: ignore[arg-type]
            files[f"cli-{name}"] = ffmpeg_cli_segment(d / f"cli-{name}{SUFFIX[fmt]}", codec)
    return files


@pytest.fixture(scope="module")
def hd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hd") / "hd.mp4"
    return make_segment(path, width=1920, height=1080, seconds=1.0, noise=0, audio=False)


def copy_to(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes())
    return dst


# ---- agreement with ffprobe ----------------------------------------------------------------------------


@pytest.mark.parametrize("maker", ["pyav", "cli"])
@pytest.mark.parametrize("fmt", CONTAINERS)
@pytest.mark.parametrize("codec", CODECS)
def test_probe_agrees_with_ffprobe(media: dict[str, Path], maker: str, codec: str, fmt: str) -> None:
    path = media[f"{maker}-{codec}-{fmt}"]
    info = probe_file(path)
    ref = ffprobe(path)
    video = next(s for s in ref["streams"] if s["codec_type"] == "video")
    audio = next(s for s in ref["streams"] if s["codec_type"] == "audio")
    fmt_ref = ref["format"]

    assert not info.damaged, info.problems
    assert info.problems == ()
    assert info.size_bytes == int(fmt_ref["size"]) == path.stat().st_size
    assert info.container == fmt_ref["format_name"]
    assert info.video_codec == video["codec_name"] == {"h264": "h264", "h265": "hevc"}[codec]
    assert info.audio_codec == audio["codec_name"] == "aac"
    assert (info.width, info.height) == (video["width"], video["height"]) == (320, 240)
    assert info.stream_count == fmt_ref["nb_streams"] == 2
    num, den = (int(x) for x in video["avg_frame_rate"].split("/"))
    assert info.frame_rate == pytest.approx(num / den, abs=0.01)
    assert info.duration_s == pytest.approx(float(fmt_ref["duration"]), abs=DURATION_TOL_S)
    assert info.start_time_s == pytest.approx(float(fmt_ref["start_time"]), abs=DURATION_TOL_S)
    assert info.bit_rate == pytest.approx(int(fmt_ref["bit_rate"]), rel=BITRATE_TOL)


def test_media_info_is_frozen_and_picklable(media: dict[str, Path]) -> None:
    info = probe_file(media["pyav-h264-mp4"])
    assert pickle.loads(pickle.dumps(info)) == info
    with pytest.raises(AttributeError):
        info.damaged = True  # type: ignore[misc]


# ---- damaged and non-video input: flagged, never raised ------------------------------------------------


@pytest.mark.parametrize("maker", ["pyav", "cli"])
def test_truncated_mp4_is_flagged_moov_missing(media: dict[str, Path], tmp_path: Path, maker: str) -> None:
    path = copy_to(media[f"{maker}-h264-mp4"], tmp_path / "cut.mp4")
    truncate(path, keep=0.6)
    info = probe_file(path)
    assert info.damaged
    assert info.problems[0] == "truncated: moov atom missing"
    assert info.size_bytes == path.stat().st_size
    # ffprobe agrees that it cannot be read.
    assert subprocess.run([FFPROBE, "-v", "error", str(path)], capture_output=True).returncode != 0


def test_truncated_faststart_mp4_names_the_cut_box(tmp_path: Path) -> None:
    path = make_segment(tmp_path / "fs.mp4", faststart=True)
    truncate(path, keep=0.5)
    info = probe_file(path)
    assert info.damaged
    assert any(p.startswith("truncated: mdat box needs") for p in info.problems), info.problems


def test_truncated_matroska_is_flagged_short(media: dict[str, Path], tmp_path: Path) -> None:
    path = copy_to(media["pyav-h264-matroska"], tmp_path / "cut.mkv")
    truncate(path, keep=0.5)
    info = probe_file(path)
    assert info.damaged
    assert any(p.startswith("truncated: video ends at") for p in info.problems), info.problems
    assert info.video_codec == "h264"  # what could be read is still reported


def test_truncated_mpegts_mid_packet_is_flagged(media: dict[str, Path], tmp_path: Path) -> None:
    path = copy_to(media["pyav-h264-mpegts"], tmp_path / "cut.ts")
    truncate(path, keep=188 * 500 + 100)
    info = probe_file(path)
    assert info.damaged
    assert any("188-byte TS packet" in p for p in info.problems), info.problems


def test_zero_bytes(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    assert probe_file(path) == MediaInfo(size_bytes=0, damaged=True, problems=("empty file (0 bytes)",))


def test_text_file_renamed_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("Shift report: nothing to add.\n" * 20)
    info = probe_file(path)
    assert info.damaged
    assert info.problems[0] == "not a media file: looks like text"
    assert info.container is None
    assert info.stream_count == 0


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp4"
    path.write_bytes(random.Random(4).randbytes(64 * 1024))
    info = probe_file(path)
    assert info.damaged
    assert info.problems[0] == "not a media file: no known container format"


def test_missing_file(tmp_path: Path) -> None:
    info = probe_file(tmp_path / "gone.mp4")
    assert info.damaged
    assert info.problems[0].startswith("cannot read: ")


@pytest.mark.parametrize("kind", sorted(NOT_VIDEO))
def test_not_video_made_by_the_ffmpeg_cli_is_flagged(tmp_path: Path, kind: str) -> None:
    path = make_not_video(kind, tmp_path / f"{kind}.mp4")
    info = probe_file(path)
    reason = NOT_VIDEO[kind][1]
    assert info.damaged and info.not_video == reason and info.problems[0] == reason, info


def test_subtitles_and_a_sound_file_with_a_cover_picture_are_not_video(tmp_path: Path) -> None:
    subs = probe_file(make_subtitles_mp4(tmp_path / "subs.mp4"))
    assert subs.not_video == "not-video: subtitles only (mov_text)" and subs.damaged
    cover = probe_file(make_audio_with_cover_mp4(tmp_path / "song.mp4"))
    assert cover.not_video == "not-video: audio only (aac) with a cover picture" and cover.audio_codec == "aac"


def test_motion_video_of_still_picture_codecs_is_video(tmp_path: Path) -> None:
    """MJPEG is a picture codec, but two seconds of it is video: the rules look at frames and duration."""
    path = tmp_path / "mjpeg.mp4"
    subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "2",
                    "-c:v", "mjpeg", str(path)], check=True)
    info = probe_file(path)
    assert not info.damaged and info.not_video is None and info.video_codec == "mjpeg"


def test_deep_probe_finds_damage_mid_file(tmp_path: Path) -> None:
    path = make_segment(tmp_path / "hit.mp4", seconds=4.0, audio=False, noise=20)
    size = path.stat().st_size
    with path.open("r+b") as f:  # a burst of garbage in the media data, headers intact
        f.seek(size // 2)
        f.write(random.Random(1).randbytes(size // 8))
    assert not probe_file(path).damaged  # the default probe only decodes the first and last keyframes
    info = probe_file(path, deep=True)
    assert info.damaged
    assert any(p.startswith("decode error at ") for p in info.problems), info.problems


# ---- thumbnails ----------------------------------------------------------------------------------------


def jpeg_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:3] == b"\xff\xd8\xff" and data[-2:] == b"\xff\xd9"  # SOI ... EOI
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        return frame.width, frame.height


@pytest.mark.parametrize("name", ["pyav-h264-mp4", "pyav-h265-mpegts", "cli-h265-matroska", "cli-h264-mpegts"])
def test_thumbnail_is_a_decodable_jpeg(media: dict[str, Path], tmp_path: Path, name: str) -> None:
    dest = tmp_path / "thumb.jpg"
    assert write_thumbnail(media[name], dest)
    assert jpeg_size(dest) == (320, 240)
    ref = ffprobe(dest)["streams"][0]
    assert (ref["codec_name"], ref["width"], ref["height"]) == ("mjpeg", 320, 240)
    assert not list(tmp_path.glob(".*.tmp"))


def test_thumbnail_of_1080p_is_scaled_to_320_wide(hd: Path, tmp_path: Path) -> None:
    dest = tmp_path / "hd.jpg"
    assert write_thumbnail(hd, dest)
    assert jpeg_size(dest) == (320, 180)


@pytest.mark.parametrize("content", [b"", b"plain text, not video\n", bytes(range(256)) * 64])
def test_no_thumbnail_for_non_video(tmp_path: Path, content: bytes) -> None:
    src = tmp_path / "bad.mp4"
    src.write_bytes(content)
    dest = tmp_path / "thumb.jpg"
    assert write_thumbnail(src, dest) is False
    assert not dest.exists()


# ---- the async pool ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["thread", "process"])
async def test_prober_matches_sync_probe_and_keeps_the_loop_free(media: dict[str, Path], kind: PoolKind) -> None:
    paths = list(media.values())
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            await asyncio.sleep(0.001)
            ticks += 1

    async with MediaProber(workers=2, kind=kind) as prober:
        tick_task = asyncio.create_task(ticker())
        started = time.perf_counter()
        infos = await asyncio.gather(*(prober.probe(p) for p in paths))
        elapsed = time.perf_counter() - started
        done.set()
        await tick_task
    assert infos == [probe_file(p) for p in paths]
    # The loop kept running while the workers probed: probing on the loop would leave it (nearly) without
    # ticks. One tick per 50 ms is a floor a loaded 2-core box still clears (a 1 ms sleep, scheduled late).
    assert ticks >= elapsed / 0.050


async def test_prober_thumbnail_and_damaged_file(media: dict[str, Path], tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 1000)
    async with MediaProber(workers=1, kind="thread") as prober:
        assert await prober.thumbnail(media["pyav-h264-mp4"], tmp_path / "t.jpg")
        assert not await prober.thumbnail(junk, tmp_path / "j.jpg")
        info = await prober.probe(junk)
    assert info.damaged
    assert jpeg_size(tmp_path / "t.jpg") == (320, 240)


async def test_process_pool_gives_the_same_answers(media: dict[str, Path], tmp_path: Path) -> None:
    good = media["cli-h265-mp4"]
    empty = tmp_path / "empty.ts"
    empty.touch()
    async with MediaProber(workers=1) as prober:  # the default: processes
        assert await prober.probe(good) == probe_file(good)
        assert (await prober.probe(empty)).problems == ("empty file (0 bytes)",)
        assert await prober.thumbnail(good, tmp_path / "p.jpg")


async def test_closed_prober_refuses_work(media: dict[str, Path]) -> None:
    prober = MediaProber(workers=1, kind="thread")
    await prober.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await prober.probe(media["pyav-h264-mp4"])
