"""Synchronous probe of one footage file with PyAV. Runs in a worker (thread or process), never on the loop.

Cost model: the header read is ~10 ms; the packet scan reads the file once without decoding (page cache is
usually hot right after ingest hashed it); two keyframes are decoded (first and last) so a file whose codec
data is garbage is caught. ``deep=True`` passes every packet through the decoder with ``skip_frame="NONKEY"``
(only keyframes are reconstructed): about 2-3x slower, and it finds damage mid-file.
Never transcodes.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import av
import av.error

from edge.bodycam.media.info import MediaInfo
from edge.bodycam.media.kind import StreamFacts, not_video, single_frame
from edge.bodycam.media.structure import looks_like_mp4, mp4_problems, sniff_non_media, ts_problems

log = logging.getLogger(__name__)

_US = 1_000_000  # container durations and start times are in AV_TIME_BASE (microseconds)
_HEAD_BYTES = 4096
# Video that ends this much before the declared duration was cut (audio may outlast video by a few frames).
_TRUNCATION_SLACK_S = 0.5


def probe_file(path: str | Path, *, deep: bool = False) -> MediaInfo:
    """Probe ``path``. Never raises: unreadable or damaged files come back with ``damaged=True``."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        return MediaInfo.broken(0, f"cannot read: {exc.strerror or exc}")
    if size == 0:
        return MediaInfo.broken(0, "empty file (0 bytes)")
    try:
        info = _probe(p, size, deep)
    except Exception as exc:  # the caller keeps the file whatever happens here
        log.exception("probe of %s failed", p)
        info = MediaInfo.broken(size, f"probe failed: {type(exc).__name__}: {exc}")
    if info.damaged:
        log.warning("damaged media %s: %s", p, "; ".join(info.problems))
    return info


def _probe(path: Path, size: int, deep: bool) -> MediaInfo:
    with path.open("rb") as f:
        head = f.read(_HEAD_BYTES)
    problems = mp4_problems(path, size) if looks_like_mp4(head) else []
    try:
        container = av.open(str(path), metadata_errors="replace")
    except av.error.FFmpegError as exc:
        cause = problems or [sniff_non_media(head)]
        return MediaInfo.broken(size, *cause, f"FFmpeg cannot open it: {exc.strerror}")
    with container:
        info = _header_facts(container, size)
        if container.format.name == "mpegts":
            problems += ts_problems(size)
        reason = not_video(_stream_facts(container, info))
        if reason is None:
            found, packets = _stream_problems(container, info, deep)
            problems += found
            reason = single_frame(packets)
    if reason is not None:
        problems.insert(0, reason)
    return dataclasses.replace(info, damaged=bool(problems), problems=tuple(problems), not_video=reason)


def _stream_facts(container: av.container.InputContainer, info: MediaInfo) -> StreamFacts:
    pictures = [s for s in container.streams.video if s.disposition & av.stream.Disposition.attached_pic]
    return StreamFacts(
        container=info.container,
        video_codecs=tuple(s.codec_context.name for s in container.streams.video if s not in pictures),
        cover_pictures=len(pictures),
        audio_codecs=tuple(s.codec_context.name for s in container.streams.audio),
        subtitle_codecs=tuple(s.codec_context.name if s.codec_context else "unknown"
                              for s in container.streams.subtitles),
        stream_count=info.stream_count, duration_s=info.duration_s)


def _header_facts(container: av.container.InputContainer, size: int) -> MediaInfo:
    video = container.streams.video[0] if container.streams.video else None
    audio = container.streams.audio[0] if container.streams.audio else None
    rate = (video.average_rate or video.base_rate) if video is not None else None
    return MediaInfo(
        size_bytes=size,
        container=container.format.name,
        video_codec=video.codec_context.name if video is not None else None,
        audio_codec=audio.codec_context.name if audio is not None else None,
        duration_s=container.duration / _US if container.duration is not None else None,
        width=(video.codec_context.width or None) if video is not None else None,
        height=(video.codec_context.height or None) if video is not None else None,
        frame_rate=float(rate) if rate else None,
        bit_rate=container.bit_rate or None,
        start_time_s=container.start_time / _US if container.start_time is not None else None,
        stream_count=len(container.streams),
    )


def _stream_problems(container: av.container.InputContainer, info: MediaInfo, deep: bool
                     ) -> tuple[list[str], int | None]:
    """Problems of the first video stream, and how many packets it has (None: not scanned)."""
    if info.width is None or info.height is None:
        return ["video stream has no frame size (codec parameters missing)"], None
    scan = _VideoScan(container.streams.video[0].codec_context, deep)
    scan.run(container)
    declared_end = _declared_end(info)
    end = scan.end_s
    if end is not None and declared_end is not None and end + _TRUNCATION_SLACK_S < declared_end:
        scan.problems.append(f"truncated: video ends at {end:.1f} s of {declared_end:.1f} s declared")
    return scan.problems, scan.packets


def _declared_end(info: MediaInfo) -> float | None:
    if info.duration_s is None:
        return None
    return info.duration_s + (info.start_time_s or 0.0)


class _VideoScan:
    """One pass over the video packets: where they end, which are corrupt, whether keyframes decode."""

    def __init__(self, codec: av.VideoCodecContext, deep: bool) -> None:
        self.codec = codec
        self.deep = deep
        self.problems: list[str] = []
        self.end_s: float | None = None
        self.packets = 0
        self.corrupt: list[float] = []
        self.decode_failures: list[float] = []

    def run(self, container: av.container.InputContainer) -> None:
        video = container.streams.video[0]
        if self.deep:
            # The decoder parses every packet but reconstructs only keyframes: damage anywhere surfaces.
            self.codec.skip_frame = "NONKEY"
        first_key = True
        last_key: tuple[av.Packet[av.VideoStream], float] | None = None
        try:
            # Demuxing one stream makes FFmpeg discard the others' packets early.
            for packet in container.demux(video):
                t = self._account(packet)
                if t is None:
                    continue
                if self.deep:
                    self._feed(packet, t)
                elif packet.is_keyframe and first_key:
                    self._check_keyframe(packet, t)
                    first_key = False
                elif packet.is_keyframe:
                    last_key = (packet, t)
        except av.error.FFmpegError as exc:
            where = f"{self.end_s:.1f} s" if self.end_s is not None else "start"
            self.problems.append(f"demux error at {where}: {exc.strerror}")
        if last_key is not None:
            self._check_keyframe(*last_key)
        self._summarise()

    def _account(self, packet: av.Packet[av.VideoStream]) -> float | None:
        if packet.size == 0:  # the demuxer's end-of-stream marker
            return None
        self.packets += 1
        t = _seconds(packet)
        if t is None:
            return None
        if packet.is_corrupt:
            self.corrupt.append(t)
        frame_s = float(packet.duration * packet.time_base) if packet.duration and packet.time_base else 0.0
        self.end_s = max(self.end_s or 0.0, t + frame_s)
        return t

    def _feed(self, packet: av.Packet[av.VideoStream], t: float) -> None:
        try:
            self.codec.decode(packet)
        except av.error.FFmpegError:
            self.decode_failures.append(t)

    def _check_keyframe(self, packet: av.Packet[av.VideoStream], t: float) -> None:
        try:
            # Drain so a decoder with reordering delay still returns the picture, then reset for reuse.
            frames = self.codec.decode(packet) + self.codec.decode(None)
            self.codec.flush_buffers()
        except av.error.FFmpegError:
            frames = []
        if not frames:
            self.decode_failures.append(t)

    def _summarise(self) -> None:
        if self.packets == 0:
            self.problems.append("no video packets")
        if self.corrupt:
            self.problems.append(f"corrupt packets: {len(self.corrupt)}, first at {self.corrupt[0]:.1f} s")
        if self.decode_failures:
            more = len(self.decode_failures) - 1
            extra = f" (and {more} more packets)" if more else ""
            self.problems.append(f"decode error at {self.decode_failures[0]:.1f} s{extra}")


def _seconds(packet: av.Packet[av.VideoStream]) -> float | None:
    ts = packet.pts if packet.pts is not None else packet.dts
    if ts is None or packet.time_base is None:
        return None
    return float(ts * packet.time_base)
