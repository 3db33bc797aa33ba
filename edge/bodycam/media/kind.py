"""Is it video at all? Footage is moving pictures: a still image, a sound recording, subtitles, or a
file with no duration is flagged ``not-video: …`` (kept as received, like a damaged file), never stored
as good footage. Pure rules over facts the probe read; no PyAV here."""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "not-video: "
# FFmpeg demuxers that read single pictures (``jpeg_pipe``, ``png_pipe``, … and the image2 family).
_IMAGE_DEMUXERS = frozenset({"image2", "gif", "apng", "webp", "ico", "svg"})


@dataclass(frozen=True, slots=True)
class StreamFacts:
    container: str | None
    video_codecs: tuple[str, ...]  # motion video streams (an audio file's cover picture excluded)
    cover_pictures: int  # video streams marked as attached pictures
    audio_codecs: tuple[str, ...]
    subtitle_codecs: tuple[str, ...]
    stream_count: int
    duration_s: float | None


def _image_demuxer(name: str | None) -> str | None:
    if name is None:
        return None
    if name.endswith("_pipe"):
        return name.removesuffix("_pipe")
    return name if name in _IMAGE_DEMUXERS else None


def not_video(facts: StreamFacts) -> str | None:
    """The reason this is not video, from the container and its streams (before any packet is read)."""
    image = _image_demuxer(facts.container)
    if image is not None:
        kind = image if image != "image2" else (facts.video_codecs or ("unknown",))[0]
        return f"{PREFIX}{kind} still image"
    if not facts.video_codecs:
        if facts.audio_codecs:
            cover = " with a cover picture" if facts.cover_pictures else ""
            return f"{PREFIX}audio only ({', '.join(facts.audio_codecs)}){cover}"
        if facts.subtitle_codecs:
            return f"{PREFIX}subtitles only ({', '.join(facts.subtitle_codecs)})"
        if facts.stream_count == 0:
            return f"{PREFIX}no streams"
        return f"{PREFIX}no video stream"
    if facts.duration_s is None or facts.duration_s <= 0:
        return f"{PREFIX}no duration"
    return None


def single_frame(video_packets: int | None) -> str | None:
    """A video stream holding one picture is a still photo in a video container."""
    return f"{PREFIX}a single video frame (a still picture)" if video_packets == 1 else None
