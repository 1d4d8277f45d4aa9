"""Looking inside a finished video before it goes to Telegram: size, length, audio, thumbnail.

Delivery passes width, height and duration to sendVideo (without them Telegram may show the wrong
aspect ratio), a small JPEG thumbnail, and makes sure the file has an audio track (a silent MP4 is
shown as a GIF). Every function here is blocking PyAV work: call it in a worker thread.

Rotation: phones and some providers store an upright video as rotated pixels plus a display
matrix. `probe_video` reads it from the first decoded frame and reports the *displayed* size;
`make_thumbnail` turns the picture the same way. Flips in the matrix are ignored (rare).
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import av
from av.container import InputContainer, OutputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from PIL import Image

from bot.media.render import MP4_OPTIONS, SilentAudio

log = logging.getLogger(__name__)

THUMB_AT_S = 0.5  # skip a possible fade-in from black, stay near the start
THUMB_MAX_BYTES = 200 * 1024  # Telegram: a thumbnail must be under 200 kB
MAX_FRAMES_FOR_THUMB = 64  # never decode far into a long file just for a still
_PROBE_ERRORS = (av.FFmpegError, OSError, ValueError, IndexError, EOFError)


class ProbeError(Exception):
    """The file is not a readable video."""


@dataclass(frozen=True)
class VideoInfo:
    """What sendVideo wants to know; width and height as displayed (rotation applied)."""

    width: int
    height: int
    duration_s: float  # 0.0 when the file does not say
    has_audio: bool
    codec: str
    rotation: int = 0  # degrees counter-clockwise from the display matrix


def probe_video(path: Path) -> VideoInfo:
    """Read size, duration, audio presence and codec; ProbeError when it is not a video."""
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container)
            first = _first_frame(container, stream, at_s=0.0)
            rotation = first.rotation if first is not None else 0
            width, height = stream.codec_context.width, stream.codec_context.height
            if rotation % 180 != 0:
                width, height = height, width
            return VideoInfo(
                width=width,
                height=height,
                duration_s=_duration(container, stream),
                has_audio=bool(container.streams.audio),
                codec=stream.codec_context.name,
                rotation=rotation,
            )
    except _PROBE_ERRORS as exc:
        raise ProbeError(f"not a readable video: {exc}") from exc


def make_thumbnail(path: Path, out_path: Path, *, max_side: int = 320) -> Path | None:
    """Write a JPEG of a frame near the start (<= max_side px, < 200 kB); None on failure."""
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container)
            frame = _first_frame(container, stream, at_s=THUMB_AT_S)
            if frame is None:
                return None
            image = _upright(frame.to_image(), frame.rotation)  # type: ignore[no-untyped-call]
    except (ProbeError, *_PROBE_ERRORS) as exc:
        log.warning("no thumbnail for %s: %s", path.name, exc)
        return None
    image = image.convert("RGB")
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    try:
        for quality in (85, 70, 50, 30):
            image.save(out_path, "JPEG", quality=quality, optimize=True)
            if out_path.stat().st_size < THUMB_MAX_BYTES:
                return out_path
    except OSError as exc:
        log.warning("cannot write thumbnail %s: %s", out_path.name, exc)
    out_path.unlink(missing_ok=True)
    return None


def add_silent_audio(path: Path, out_path: Path) -> bool:
    """Copy the video stream as is into out_path with a silent AAC track; False if it had audio.

    Nothing is written when the input already has audio. Raises ProbeError on unreadable input.
    """
    tmp_path = out_path.with_name(f"{out_path.name}.part")
    try:
        with av.open(str(path)) as src:
            video_in = _video_stream(src)
            if src.streams.audio:
                return False
            with av.open(str(tmp_path), "w", format="mp4", options=MP4_OPTIONS) as dst:
                _remux_with_silence(src, video_in, dst)
        os.replace(tmp_path, out_path)
        return True
    except _PROBE_ERRORS as exc:
        raise ProbeError(f"cannot add an audio track: {exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink()


def _remux_with_silence(src: InputContainer, video_in: VideoStream, dst: OutputContainer) -> None:
    video_out = dst.add_stream_from_template(video_in)
    audio = SilentAudio(dst)
    start = video_in.start_time or 0
    time_base = video_in.time_base
    if time_base is None:
        raise ProbeError("video stream without a time base")
    end_s = 0.0
    for packet in src.demux(video_in):
        if packet.dts is None:  # the demuxer's end-of-stream marker
            continue
        if packet.pts is not None:
            # Emit silence alongside the video so the muxer never buffers a whole stream.
            pts_s = float((packet.pts - start) * time_base)
            end_s = max(end_s, pts_s + float((packet.duration or 0) * time_base))
            audio.write_until(pts_s)
        packet.stream = video_out
        dst.mux(packet)
    audio.write_until(end_s)
    audio.flush()


def _video_stream(container: InputContainer) -> VideoStream:
    if not container.streams.video:
        raise ProbeError("no video stream")
    return container.streams.video[0]


def _first_frame(
    container: InputContainer, stream: VideoStream, *, at_s: float
) -> VideoFrame | None:
    """The first frame at or after `at_s` (or the last one before the end, for short files)."""
    chosen: VideoFrame | None = None
    for count, frame in enumerate(container.decode(stream)):
        chosen = frame
        if frame.time is None or frame.time >= at_s or count >= MAX_FRAMES_FOR_THUMB:
            break
    return chosen


def _duration(container: InputContainer, stream: VideoStream) -> float:
    if container.duration is not None:
        return container.duration / av.time_base
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return 0.0


def _upright(image: Image.Image, rotation: int) -> Image.Image:
    """Turn the decoded picture the way a player would (rotation is counter-clockwise)."""
    turn = {
        90: Image.Transpose.ROTATE_90,
        180: Image.Transpose.ROTATE_180,
        270: Image.Transpose.ROTATE_270,
    }.get(rotation % 360)
    return image.transpose(turn) if turn is not None else image
