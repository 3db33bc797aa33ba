"""Keyframe JPEG thumbnail with PyAV: seek, decode one keyframe, scale, encode. Runs in a worker.

Only one keyframe is decoded (``skip_frame="NONKEY"`` makes the decoder drop everything else), so the cost
does not grow with the file's length. Nothing is transcoded.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import av.error

log = logging.getLogger(__name__)

THUMBNAIL_WIDTH = 320
_POSITION = 1 / 3  # a third in: body cameras' first frames are often a pocket or a hand over the lens
_MAX_OFFSET_S = 30.0
_JPEG_QSCALE = 4  # 2 (best) .. 31; 4 gives ~10 kB for 320x180
_FF_QP2LAMBDA = 118


def write_thumbnail(path: str | Path, dest: str | Path, *, width: int = THUMBNAIL_WIDTH) -> bool:
    """Write a JPEG of one keyframe of ``path`` to ``dest``; False (and nothing written) if impossible."""
    try:
        jpeg = _thumbnail_jpeg(Path(path), width)
        if jpeg is None:
            log.warning("no thumbnail for %s: no decodable video keyframe", path)
            return False
        _write_replace(Path(dest), jpeg)
    except Exception as exc:  # noqa: BLE001 - damaged footage must never take the ingest down
        log.warning("no thumbnail for %s: %s", path, exc)
        return False
    return True


def _thumbnail_jpeg(path: Path, width: int) -> bytes | None:
    with av.open(str(path), metadata_errors="replace") as container:
        if not container.streams.video:
            return None
        video = container.streams.video[0]
        video.codec_context.skip_frame = "NONKEY"
        frame = _keyframe_near(container, video, _target_seconds(container))
        if frame is None:  # seeking failed or landed past the last keyframe: take the first one
            container.seek(0)
            video.codec_context.flush_buffers()
            frame = _first_frame(container, video)
        if frame is None:
            return None
        return _encode_jpeg(frame, width, video.sample_aspect_ratio)


def _target_seconds(container: av.container.InputContainer) -> float:
    duration = container.duration / 1_000_000 if container.duration else 0.0
    start = container.start_time / 1_000_000 if container.start_time else 0.0
    return start + min(duration * _POSITION, _MAX_OFFSET_S)


def _keyframe_near(
    container: av.container.InputContainer, video: av.VideoStream, seconds: float
) -> av.VideoFrame | None:
    if video.time_base is None:
        return None
    try:
        container.seek(int(seconds / video.time_base), stream=video, backward=True, any_frame=False)
    except av.error.FFmpegError:
        return None
    return _first_frame(container, video)


def _first_frame(container: av.container.InputContainer, video: av.VideoStream) -> av.VideoFrame | None:
    try:
        for frame in container.decode(video):
            return frame
    except av.error.FFmpegError as exc:
        log.debug("keyframe decode failed: %s", exc)
    return None


def _encode_jpeg(frame: av.VideoFrame, width: int, sar: Fraction | None) -> bytes:
    # Keep the displayed aspect (sample aspect ratio) and never upscale; JPEG 4:2:0 wants even sizes.
    display_w = frame.width * float(sar) if sar else float(frame.width)
    out_w = _even(min(width, frame.width))
    out_h = _even(out_w * frame.height / display_w)
    small = frame.reformat(width=out_w, height=out_h, format="yuvj420p")
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width = out_w
    encoder.height = out_h
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    encoder.options = {"flags": "+qscale", "global_quality": str(_JPEG_QSCALE * _FF_QP2LAMBDA)}
    packets = encoder.encode(small) + encoder.encode(None)
    return b"".join(bytes(p) for p in packets)


def _even(x: float) -> int:
    return max(2, round(x / 2) * 2)


def _write_replace(dest: Path, data: bytes) -> None:
    # Temp + rename so a reader never sees half a JPEG. No fsync: a thumbnail can be made again.
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(dest)
