"""The local provider's renderer: a slow Ken Burns pan/zoom over one photo, as an H.264 MP4.

Pure and blocking (run it in a worker thread). The output is what Telegram plays well: H.264
yuv420p with even dimensions, `+faststart` so phones stream it, and a silent stereo AAC track,
because Telegram shows an MP4 without audio as a GIF-like animation.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.reformatter import (
    ColorPrimaries,
    ColorRange,
    Colorspace,
    ColorTrc,
    VideoReformatter,
)
from av.video.stream import VideoStream
from PIL import Image, ImageOps, ImageStat

ZOOM_END = 1.15  # gentle: more than ~20 % starts to look like a crash zoom
DRIFT = 0.6  # share of the zoomed-in slack the centre travels along the photo's long axis
CROSS_DRIFT = 0.25  # and along the short axis, so the motion is not a plain slide
# Oversampling of the working copy: at the end zoom one output pixel still maps to >= 1 source
# pixel, and decimating a photo once (LANCZOS) keeps per-frame resizes small and alias-free.
WORK_OVERSAMPLE = ZOOM_END * 1.1
AUDIO_RATE = 48_000
AUDIO_CHUNK = 1024  # one AAC frame
X264_OPTIONS = {"preset": "veryfast", "crf": "23", "profile": "high"}
# The moov atom first, so a phone starts playing before the whole file has arrived.
MP4_OPTIONS = {"movflags": "+faststart"}
# Beyond this the decoded photo alone would take hundreds of MB; no phone photo comes near it.
MAX_PIXELS = 50_000_000
# A video phones show well: at least this short side (when max_side allows it) and an aspect
# ratio between 9:16 and 16:9. A smaller or longer photo is placed on a canvas of that shape.
MIN_SHORT_SIDE = 360
MAX_VIDEO_ASPECT = 16 / 9
CANVAS_DIMMING = 0.35  # the canvas is the photo's average colour, darkened


class RenderError(Exception):
    """The render failed; the message says why (never contains secrets, only paths)."""


class InvalidImageError(RenderError):
    """The input is not a decodable image: the user's fault, not the renderer's."""


class RenderCancelled(Exception):
    """The caller's cancel event was set; no output file was left behind."""


@dataclass(frozen=True)
class RenderResult:
    """What was written: pixel size, exact duration and file size."""

    width: int
    height: int
    duration_s: int
    size_bytes: int


def even_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Scale (never up) so the long side is <= max_side; both sides even and >= 2."""
    scale = min(1.0, max_side / max(width, height))
    return (max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2))


def video_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The video's size for a photo: its own (scaled down) size when phones show that well;
    otherwise a canvas with the long side at max_side and the aspect ratio clamped."""
    own = even_size(width, height, max_side)
    aspect = width / height
    clamped = min(max(aspect, 1 / MAX_VIDEO_ASPECT), MAX_VIDEO_ASPECT)
    if clamped == aspect and min(own) >= min(MIN_SHORT_SIDE, max_side):
        return own
    if clamped >= 1:
        return even_size(max_side, max(1, round(max_side / clamped)), max_side)
    return even_size(max(1, round(max_side * clamped)), max_side, max_side)


def on_canvas(photo: Image.Image, width: int, height: int) -> Image.Image:
    """The photo scaled to fit inside a width x height canvas of its darkened average colour."""
    scale = min(width / photo.width, height / photo.height)
    fitted = (max(1, round(photo.width * scale)), max(1, round(photo.height * scale)))
    average = tuple(round(c * CANVAS_DIMMING) for c in ImageStat.Stat(photo).mean[:3])
    canvas = Image.new("RGB", (width, height), average)
    canvas.paste(
        photo.resize(fitted, Image.Resampling.LANCZOS),
        ((width - fitted[0]) // 2, (height - fitted[1]) // 2),
    )
    return canvas


def ease(t: float) -> float:
    """Smootherstep: zero speed and acceleration at both ends, so motion starts softly."""
    return t * t * t * (t * (t * 6 - 15) + 10)


def crop_box(
    src_w: int, src_h: int, t: float, *, landscape: bool
) -> tuple[float, float, float, float]:
    """The source window shown at time t in [0, 1]; always inside the photo."""
    e = ease(t)
    zoom = 1.0 + (ZOOM_END - 1.0) * e
    win_w, win_h = src_w / zoom, src_h / zoom
    # The offset is a fixed share of the slack at this zoom, so the window never leaves the photo.
    drift_x, drift_y = (DRIFT, CROSS_DRIFT) if landscape else (CROSS_DRIFT, DRIFT)
    cx = src_w / 2 + drift_x * (src_w - win_w) / 2
    cy = src_h / 2 - drift_y * (src_h - win_h) / 2
    return (cx - win_w / 2, cy - win_h / 2, cx + win_w / 2, cy + win_h / 2)


def load_photo(image_path: Path, long_side: int | None = None) -> Image.Image:
    """Decode and upright (EXIF orientation) the photo as RGB; InvalidImageError if it is not one.

    With `long_side`, a JPEG is decoded at a reduced scale (DCT scaling, much faster) as long as
    its long side stays >= long_side.
    """
    try:
        with Image.open(image_path) as img:
            if img.width * img.height > MAX_PIXELS:
                raise InvalidImageError(f"photo too large: {img.width}x{img.height}")
            if long_side is not None and img.format == "JPEG":
                scale = min(1.0, long_side / max(img.size))
                img.draft("RGB", (math.ceil(img.width * scale), math.ceil(img.height * scale)))
            img.load()
            return ImageOps.exif_transpose(img).convert("RGB")
    except FileNotFoundError as exc:
        raise RenderError(f"input photo missing: {image_path.name}") from exc
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        # UnidentifiedImageError and truncated files are OSErrors; broken EXIF raises ValueError.
        raise InvalidImageError(f"not a decodable image: {exc}") from exc


class SilentAudio:
    """Writes a silent stereo AAC track into `container`, chunk by chunk, up to a given time."""

    def __init__(self, container: OutputContainer) -> None:
        self._container = container
        self.stream: AudioStream = container.add_stream("aac", rate=AUDIO_RATE)
        self.stream.layout = "stereo"
        self.stream.format = "fltp"
        self._written = 0  # samples

    def write_until(self, seconds: float) -> None:
        """Encode silence up to `seconds` (a final partial chunk included)."""
        target = round(seconds * AUDIO_RATE)
        while self._written < target:
            samples = min(AUDIO_CHUNK, target - self._written)
            frame = av.AudioFrame(format="fltp", layout="stereo", samples=samples)
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))  # all-zero floats: real silence
            frame.sample_rate = AUDIO_RATE
            frame.pts = self._written
            self._written += samples
            self._container.mux(self.stream.encode(frame))

    def flush(self) -> None:
        """Drain the encoder."""
        self._container.mux(self.stream.encode(None))


def render_pan_zoom(
    image_path: Path,
    out_path: Path,
    *,
    duration_s: int,
    fps: int = 24,
    max_side: int = 720,
    cancel: threading.Event | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> RenderResult:
    """Render `duration_s` seconds of Ken Burns motion over the photo into an MP4 at out_path."""
    if duration_s <= 0 or fps <= 0 or max_side < 2:
        raise ValueError("duration_s, fps and max_side must be positive")
    work_side = math.ceil(max_side * WORK_OVERSAMPLE)
    photo = load_photo(image_path, work_side)
    width, height = video_size(photo.width, photo.height, max_side)
    if (width, height) != even_size(photo.width, photo.height, max_side):
        # Too small or too long and thin: the camera moves over a canvas, not the bare photo.
        photo = on_canvas(
            photo, math.ceil(width * WORK_OVERSAMPLE), math.ceil(height * WORK_OVERSAMPLE)
        )
    work_w = min(photo.width, math.ceil(width * WORK_OVERSAMPLE))
    if work_w < photo.width:
        work_h = max(1, round(photo.height * work_w / photo.width))
        photo = photo.resize((work_w, work_h), Image.Resampling.LANCZOS, reducing_gap=3.0)
    # Write next to the target and rename at the end: a reader never sees a half-written MP4.
    tmp_path = out_path.with_name(f"{out_path.name}.part")
    try:
        _encode(photo, tmp_path, width, height, duration_s, fps, cancel, on_progress)
        os.replace(tmp_path, out_path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise
    return RenderResult(width, height, duration_s, out_path.stat().st_size)


def _encode(
    photo: Image.Image,
    path: Path,
    width: int,
    height: int,
    duration_s: int,
    fps: int,
    cancel: threading.Event | None,
    on_progress: Callable[[int], None] | None,
) -> None:
    total = duration_s * fps
    landscape = photo.width >= photo.height
    reported = -1
    try:
        with av.open(str(path), "w", format="mp4", options=MP4_OPTIONS) as container:
            video = container.add_stream("libx264", rate=fps, options=X264_OPTIONS)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            _tag_bt709(video)
            to_yuv = VideoReformatter()
            audio = SilentAudio(container)
            for i in range(total):
                if cancel is not None and cancel.is_set():
                    raise RenderCancelled
                box = crop_box(
                    photo.width, photo.height, i / max(1, total - 1), landscape=landscape
                )
                image = photo.resize((width, height), Image.Resampling.BILINEAR, box=box)
                frame = _to_bt709(to_yuv, image)
                frame.pts = i
                container.mux(video.encode(frame))
                audio.write_until((i + 1) / fps)
                percent = (i + 1) * 100 // total
                if on_progress is not None and percent != reported:
                    reported = percent
                    on_progress(min(percent, 99))  # 100 only once the file is complete
            container.mux(video.encode(None))
            audio.flush()
    except (av.FFmpegError, OSError) as exc:
        raise RenderError(f"encoding failed: {exc}") from exc
    if on_progress is not None:
        on_progress(100)


def _tag_bt709(video: VideoStream) -> None:
    # Untagged YUV is guessed as BT.601 or BT.709 depending on the player and the frame height,
    # which shifts colours; convert to BT.709 and say so in the stream.
    ctx = video.codec_context
    ctx.colorspace = int(Colorspace.ITU709)
    ctx.color_primaries = int(ColorPrimaries.BT709)
    ctx.color_trc = int(ColorTrc.BT709)
    ctx.color_range = int(ColorRange.MPEG)


def _to_bt709(reformatter: VideoReformatter, image: Image.Image) -> av.VideoFrame:
    # from_image copies row by row (honouring FFmpeg's line padding); PyAV's stub is untyped.
    rgb: av.VideoFrame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
    return reformatter.reformat(
        rgb,
        format="yuv420p",
        dst_colorspace=int(Colorspace.ITU709),
        dst_color_range=int(ColorRange.MPEG),
        dst_color_trc=ColorTrc.BT709,
        dst_color_primaries=ColorPrimaries.BT709,
    )
