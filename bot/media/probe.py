"""Looking inside a finished video: size, length, audio, thumbnail (the demo and tools use it).

Thin wrappers over the result check (`bot.media.check`), so every reader of a video agrees:
the main stream (most pixels, never a cover picture), the display matrix (0/90/180/270 and
mirrors; a degenerate matrix ignored), square pixels, and a length taken from the decoded
frames rather than from a header's claim. Blocking PyAV work: call it in a worker thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from bot.media.check import THUMB_MAX_BYTES, BrokenResult, scan_video, write_thumbnail
from bot.media.transcode import remux_for_phones

__all__ = ["THUMB_MAX_BYTES", "ProbeError", "VideoInfo", "add_silent_audio", "probe_video"]
log = logging.getLogger(__name__)


class ProbeError(Exception):
    """The file is not a readable video."""


@dataclass(frozen=True)
class VideoInfo:
    """What sendVideo wants to know; width and height as displayed (rotation applied)."""

    width: int
    height: int
    duration_s: float  # from the frames
    has_audio: bool
    codec: str
    rotation: int = 0  # degrees counter-clockwise from the display matrix


def probe_video(path: Path) -> VideoInfo:
    """Read size, duration, audio presence and codec; ProbeError when it is not a video."""
    try:
        scan = scan_video(path)
    except BrokenResult as exc:
        raise ProbeError(f"not a readable video: {exc.reason}") from exc
    width, height = scan.display
    return VideoInfo(
        width=width,
        height=height,
        duration_s=scan.real_s,
        has_audio=scan.audio_codec is not None,
        codec=scan.codec,
        rotation=scan.orientation.rotation,
    )


def make_thumbnail(path: Path, out_path: Path, *, max_side: int = 320) -> Path | None:
    """Write an upright JPEG of a frame 0.5 s into the stream (< 200 kB); None on failure."""
    try:
        scan = scan_video(path)
    except BrokenResult as exc:
        log.warning("no thumbnail for %s: %s", path.name, exc.reason)
        return None
    if scan.thumb is None:
        return None
    image = scan.thumb.copy()
    image.thumbnail((max_side, max_side))
    return write_thumbnail(image, out_path)


def add_silent_audio(path: Path, out_path: Path) -> bool:
    """Copy the video stream as is into out_path with a silent AAC track; False if it had audio.

    Nothing is written when the input already has audio. Raises ProbeError on unreadable input.
    """
    try:
        scan = scan_video(path)
        if scan.audio_codec is not None:
            return False
        if scan.codec not in ("h264", "hevc"):
            raise ProbeError(f"cannot copy {scan.codec} into MP4 for phones")
        remux_for_phones(path, out_path, scan)
    except BrokenResult as exc:
        raise ProbeError(f"cannot add an audio track: {exc.reason}") from exc
    return True
