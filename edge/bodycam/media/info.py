"""The result of probing a footage file: plain data, no PyAV types, safe to pickle across processes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What a footage file holds, and whether it is damaged.

    Fields other than ``size_bytes``, ``stream_count``, ``damaged`` and ``problems`` are ``None`` when they
    could not be read. A damaged file is still evidence: the caller keeps it and records ``problems``.
    """

    size_bytes: int
    container: str | None = None  # FFmpeg demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "mpegts"
    video_codec: str | None = None  # FFmpeg codec name, e.g. "h264", "hevc"
    audio_codec: str | None = None
    duration_s: float | None = None  # container duration, as ffprobe's format.duration
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None  # average frame rate (ffprobe's avg_frame_rate), else the base rate
    bit_rate: int | None = None  # whole file, bits per second
    start_time_s: float | None = None
    stream_count: int = 0
    damaged: bool = False
    # Specific reasons, e.g. "truncated: moov atom missing"; a tuple so the frozen value stays immutable.
    problems: tuple[str, ...] = field(default_factory=tuple)
    # Why this is not video at all (``not-video: jpeg still image``), also the first of ``problems``.
    not_video: str | None = None

    @classmethod
    def broken(cls, size_bytes: int, *problems: str) -> MediaInfo:
        """A file nothing could be read from."""
        return cls(size_bytes=size_bytes, damaged=True, problems=problems)
