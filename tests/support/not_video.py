"""Files that are not video, made by the ffmpeg CLI (Debian's, independent of the PyAV the daemon uses), each
named ``.mp4`` the way a confused or hostile sender would, with the problem the probe must report."""

from __future__ import annotations

import subprocess
from pathlib import Path

FFMPEG = "/usr/bin/ffmpeg"
_PICTURE = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"]

# kind -> (ffmpeg arguments before the output, the probe's `not_video` reason)
NOT_VIDEO: dict[str, tuple[list[str], str]] = {
    "jpeg": ([*_PICTURE, "-frames:v", "1", "-f", "image2", "-c:v", "mjpeg"], "not-video: jpeg still image"),
    "png": ([*_PICTURE, "-frames:v", "1", "-f", "image2", "-c:v", "png"], "not-video: png still image"),
    "audio-mp4": (["-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac", "-f", "mp4"],
                  "not-video: audio only (aac)"),
    "zero-duration-mp4": ([*_PICTURE, "-t", "0", "-c:v", "libx264", "-f", "mp4"], "not-video: no streams"),
    "one-frame-mp4": ([*_PICTURE, "-frames:v", "1", "-c:v", "libx264", "-f", "mp4"],
                      "not-video: a single video frame (a still picture)"),
}


def make_not_video(kind: str, dest: Path) -> Path:
    args, _ = NOT_VIDEO[kind]
    subprocess.run([FFMPEG, "-hide_banner", "-v", "error", "-y", *args, str(dest)], check=True)
    assert dest.stat().st_size > 0
    return dest


def make_subtitles_mp4(dest: Path) -> Path:
    srt = dest.with_suffix(".srt")
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    subprocess.run([FFMPEG, "-hide_banner", "-v", "error", "-y", "-i", str(srt), "-c:s", "mov_text", "-f", "mp4",
                    str(dest)], check=True)
    return dest


def make_audio_with_cover_mp4(dest: Path) -> Path:
    cover = make_not_video("jpeg", dest.with_name(dest.stem + "-cover.jpg"))
    subprocess.run([FFMPEG, "-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=2",
                    "-i", str(cover), "-map", "0", "-map", "1", "-c:a", "aac", "-c:v", "mjpeg",
                    "-disposition:v", "attached_pic", "-f", "mp4", str(dest)], check=True)
    return dest
