"""Media probing and thumbnails: the only package in edge/ that imports PyAV (av).

Use :class:`MediaProber` from async code; :func:`probe_file` and :func:`write_thumbnail` are the synchronous
workers it runs off the event loop.
"""

from edge.bodycam.media.info import MediaInfo
from edge.bodycam.media.probe import probe_file
from edge.bodycam.media.prober import MediaProber, PoolKind
from edge.bodycam.media.thumbnail import THUMBNAIL_WIDTH, write_thumbnail

__all__ = ["THUMBNAIL_WIDTH", "MediaInfo", "MediaProber", "PoolKind", "probe_file", "write_thumbnail"]
