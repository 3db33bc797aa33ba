"""Body-camera footage generator for tests, simulators and benchmarks.

Writes real H.264/H.265 + AAC segments with PyAV. Pictures and sound come from FFmpeg's own lavfi sources
(``testsrc2``, ``noise``, ``sine``) run inside PyAV, so no numpy is needed and frames are made in C.

Output is deterministic for a seed (same bytes every run): x264/x265 are deterministic, and muxers and the AAC
encoder run with ``bitexact`` so no random ids or version strings enter the file.

Sizes: the defaults (320x240, 2 s, ultrafast) take ~0.1 s and suit tests; :func:`make_realistic_segment`
writes 1080p with temporal noise at ~4 Mbit/s like a real body camera, for benchmarks.
"""

from __future__ import annotations

import itertools
import logging
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import av.filter
from av.video.frame import PictureType

log = logging.getLogger(__name__)

Codec = Literal["h264", "h265"]
ContainerName = Literal["mp4", "mpegts", "matroska", "ts", "mkv"]

_ENCODER = {"h264": "libx264", "h265": "libx265"}
_FORMAT = {"mp4": "mp4", "mpegts": "mpegts", "ts": "mpegts", "matroska": "matroska", "mkv": "matroska"}
SUFFIX = {"mp4": ".mp4", "mpegts": ".ts", "matroska": ".mkv"}

_AUDIO_RATE = 48_000
_AAC_FRAME = 1024  # samples per AAC frame: the encoder refuses other frame sizes


def make_segment(
    path: str | Path,
    *,
    seconds: float = 2.0,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    codec: Codec = "h264",
    container: ContainerName = "mp4",
    audio: bool = True,
    seed: int = 0,
    noise: int = 3,
    bit_rate: int | None = None,
    preset: str = "ultrafast",
    gop_seconds: float = 1.0,
    faststart: bool = False,
) -> Path:
    """Write one segment and return its path.

    ``noise`` is the strength of temporal noise (0-100); 12 at 1080p gives a realistic ~4 Mbit/s.
    ``bit_rate`` switches the encoder from constant quality to average bit rate (bits/s).
    ``faststart`` puts the MP4 index (moov) before the media data, as streaming-friendly cameras do.
    """
    out_path = Path(path)
    fmt = _FORMAT[container]
    container_options = {"fflags": "+bitexact"}
    if faststart and fmt == "mp4":
        container_options["movflags"] = "+faststart"
    with av.open(str(out_path), "w", format=fmt, container_options=container_options) as out:
        vstream = _add_video_stream(out, codec, width, height, fps, bit_rate, preset, gop_seconds)
        track = _AudioTrack(out, _add_audio_stream(out), _audio_source(seconds, seed)) if audio else None
        _encode_all(out, vstream, _video_source(seconds, width, height, fps, noise, seed), fps, track)
    log.debug("wrote %s (%s/%s %dx%d %.1f s)", out_path, codec, fmt, width, height, seconds)
    return out_path


def make_realistic_segment(
    path: str | Path,
    *,
    seconds: float = 10.0,
    codec: Codec = "h264",
    container: ContainerName = "mp4",
    seed: int = 0,
) -> Path:
    """1080p25 with noise at ~4 Mbit/s, the shape of real body-camera footage (for benchmarks)."""
    return make_segment(
        path,
        seconds=seconds,
        width=1920,
        height=1080,
        fps=25,
        codec=codec,
        container=container,
        seed=seed,
        noise=12,
        bit_rate=4_000_000,
        preset="veryfast",
    )


def truncate(path: str | Path, *, keep: float = 0.5) -> int:
    """Cut a file down, as a dropped upload or a pulled battery would; return the new size in bytes.

    ``keep`` < 1 is a fraction of the current size; ``keep`` >= 1 is an absolute byte count.
    """
    p = Path(path)
    size = p.stat().st_size
    new_size = int(size * keep) if keep < 1 else min(int(keep), size)
    with p.open("r+b") as f:
        f.truncate(new_size)
    return new_size


def _add_video_stream(
    out: av.container.OutputContainer,
    codec: Codec,
    width: int,
    height: int,
    fps: int,
    bit_rate: int | None,
    preset: str,
    gop_seconds: float,
) -> av.VideoStream:
    gop = max(1, round(fps * gop_seconds))
    options = {"preset": preset}
    if codec == "h265":
        # x265 prints a banner and stats on stderr unless told otherwise.
        options["x265-params"] = f"log-level=error:keyint={gop}:min-keyint={gop}"
    else:
        options["x264-params"] = f"keyint={gop}:min-keyint={gop}:scenecut=0"
    stream = out.add_stream(_ENCODER[codec], rate=fps, options=options)
    assert isinstance(stream, av.VideoStream)
    stream.width = width
    stream.height = height
    stream.pix_fmt = "yuv420p"
    stream.codec_context.time_base = Fraction(1, fps)
    if bit_rate is not None:
        stream.bit_rate = bit_rate
    return stream


def _add_audio_stream(out: av.container.OutputContainer) -> av.AudioStream:
    stream = out.add_stream("aac", rate=_AUDIO_RATE, layout="mono")
    assert isinstance(stream, av.AudioStream)
    stream.bit_rate = 64_000
    stream.codec_context.flags |= 0x00800000  # AV_CODEC_FLAG_BITEXACT: no encoder version string
    return stream


def _pipeline(*filters: tuple[str, str]) -> av.filter.Graph:
    graph = av.filter.Graph()
    nodes = [graph.add(name, args) for name, args in filters]
    for a, b in itertools.pairwise(nodes):
        a.link_to(b)
    graph.configure()
    return graph


def _video_source(seconds: float, width: int, height: int, fps: int, noise: int, seed: int) -> av.filter.Graph:
    filters = [("testsrc2", f"size={width}x{height}:rate={fps}:duration={seconds}")]
    if noise > 0:
        filters.append(("noise", f"alls={noise}:allf=t:all_seed={seed & 0x7FFFFFFF}"))
    filters += [("format", "pix_fmts=yuv420p"), ("buffersink", "")]
    return _pipeline(*filters)


def _audio_source(seconds: float, seed: int) -> av.filter.Graph:
    freq = 440 + 20 * (seed % 40)  # the seed changes the tone so segments differ in sound too
    return _pipeline(
        ("sine", f"frequency={freq}:sample_rate={_AUDIO_RATE}:duration={seconds}"),
        ("aformat", "sample_fmts=fltp:channel_layouts=mono"),
        ("asetnsamples", f"n={_AAC_FRAME}:p=1"),
        ("abuffersink", ""),
    )


def _pull_video(graph: av.filter.Graph) -> av.VideoFrame | None:
    frame = _pull(graph)
    return frame if isinstance(frame, av.VideoFrame) else None


def _pull_audio(graph: av.filter.Graph) -> av.AudioFrame | None:
    frame = _pull(graph)
    return frame if isinstance(frame, av.AudioFrame) else None


def _pull(graph: av.filter.Graph) -> object:
    try:
        return graph.pull()
    except (av.error.EOFError, av.error.BlockingIOError):  # the source's end, or no frame yet
        return None


class _AudioTrack:
    """AAC encoding that keeps its own sample clock, fed up to a given time."""

    def __init__(self, out: av.container.OutputContainer, stream: av.AudioStream, sound: av.filter.Graph):
        self.out = out
        self.stream = stream
        self.sound = sound
        self.samples = 0

    def feed_until(self, seconds: float) -> None:
        while self.samples < seconds * _AUDIO_RATE and (frame := _pull_audio(self.sound)) is not None:
            frame.pts = self.samples
            frame.time_base = Fraction(1, _AUDIO_RATE)
            self.samples += frame.samples
            self.out.mux(self.stream.encode(frame))

    def finish(self) -> None:
        self.feed_until(float("inf"))
        self.out.mux(self.stream.encode(None))


def _encode_all(
    out: av.container.OutputContainer,
    vstream: av.VideoStream,
    video: av.filter.Graph,
    fps: int,
    audio: _AudioTrack | None,
) -> None:
    """Encode video and audio interleaved in time, so no muxer buffers a whole stream."""
    index = 0
    while (frame := _pull_video(video)) is not None:
        frame.pts = index
        frame.time_base = Fraction(1, fps)
        # lavfi sources mark every frame as an I picture, which libx264/libx265 obey as a forced keyframe.
        frame.pict_type = PictureType.NONE
        out.mux(vstream.encode(frame))
        index += 1
        if audio is not None:
            audio.feed_until(index / fps)
    out.mux(vstream.encode(None))
    if audio is not None:
        audio.finish()
