"""Checking a provider's result: does every frame decode, how long is it really, what must change.

`scan_video` decodes every frame of the main video stream once (no frame is
kept, only the one picked for the thumbnail), takes the length from the frames rather than from
a header's claim, and returns a file phones play: MP4 with H.264 (or HEVC tagged `hvc1`) and an
AAC track. A result that already is one goes out untouched; one that only needs a new container
(no audio, `hev1`, MOV, moov at the end, a header that lies about the length, extra streams) is
remuxed with its video stream copied as is; anything else (VP9, AV1, ProRes, VVC, WebM, 10-bit
H.264, timestamp gaps, non-square pixels, non-AAC audio) is transcoded once to H.264.
`choose_action` picks which. A file that does not decode raises `BrokenResult`. Blocking PyAV
work: call it in a worker thread; `bot.media.result.prepare_result` is the entry point.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import statistics
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

from bot.media.geometry import (
    AS_STORED,
    Orientation,
    display_size,
    frame_orientation,
    main_video_stream,
    pixel_aspect,
    upright_image,
)

log = logging.getLogger(__name__)

THUMB_AT_S = 0.5  # after the stream's own start: skip a possible fade-in from black
THUMB_SIDE = 320
THUMB_MAX_BYTES = 200 * 1024  # Telegram: a thumbnail must be under 200 kB
MAX_VIDEO_PIXELS = 4096 * 4096  # 4K and a bit: no image-to-video provider makes more
MAX_FRAMES = 60 * 600  # ten minutes at 60 fps: far beyond any provider's result
# A step between two frames this much longer than the usual one is a hole in the timestamps.
GAP_FACTOR = 8
MIN_GAP_S = 1.0
# Frames a header may promise beyond what decodes (edit lists, a dropped last B-frame).
MISSING_FRAMES_TOLERANCE = 2
HEADER_SLACK_S = 1.0  # a header's length may exceed the frames' by this before it is rewritten
PHONE_VIDEO_CODECS = frozenset({"h264", "hevc"})
PHONE_PIXEL_FORMATS = {
    "h264": frozenset({"yuv420p", "yuvj420p"}),
    "hevc": frozenset({"yuv420p", "yuvj420p", "yuv420p10le"}),
}
_AV_ERRORS = (av.FFmpegError, OSError, ValueError, IndexError, EOFError, MemoryError)


class BrokenResult(Exception):
    """The provider's file is not a playable video; `reason` says why (for logs and metrics)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Action(StrEnum):
    AS_IS = "as_is"
    REMUX = "remux"
    TRANSCODE = "transcode"


@dataclass
class Scan:
    """What decoding the whole main stream found."""

    brand: bytes | None  # the ISO file's major brand; None: not an ISO file (WebM, MKV ...)
    moov_first: bool
    codec: str
    codec_tag: str
    pix_fmt: str
    coded_width: int
    coded_height: int
    sar: Fraction
    orientation: Orientation
    frames: int
    claimed_frames: int
    frame_step_s: float  # the usual step between two frames
    real_s: float  # the length a viewer sees: gaps counted as one usual step
    span_s: float  # from the first frame's start to the last frame's end, gaps included
    header_s: float  # what the container header claims (0 when it does not say)
    video_streams: int
    audio_codec: str | None
    audio_streams: int
    thumb: Image.Image | None = field(default=None, repr=False)

    @property
    def display(self) -> tuple[int, int]:
        return display_size(self.coded_width, self.coded_height, self.sar, self.orientation)

    @property
    def has_gap(self) -> bool:
        return self.span_s - self.real_s > MIN_GAP_S

    @property
    def fps(self) -> Fraction:
        """The usual frame rate (1 to 60 fps), for a constant-rate re-encode."""
        fps = Fraction(1 / self.frame_step_s).limit_denominator(1001)
        return min(max(fps, Fraction(1)), Fraction(60))


def choose_action(scan: Scan) -> Action:
    """Untouched, a new container around the same video stream, or a new encode."""
    allowed_pix = PHONE_PIXEL_FORMATS.get(scan.codec, frozenset())
    if (
        scan.codec not in PHONE_VIDEO_CODECS
        or scan.pix_fmt not in allowed_pix
        or scan.has_gap
        or scan.sar != 1
        or (scan.audio_codec is not None and scan.audio_codec != "aac")
    ):
        return Action.TRANSCODE
    if (
        scan.brand in (None, b"qt  ")
        or not scan.moov_first
        or scan.audio_codec is None
        or scan.video_streams > 1
        or scan.audio_streams > 1
        or (scan.codec == "hevc" and scan.codec_tag != "hvc1")
        or scan.header_s > scan.span_s + HEADER_SLACK_S
    ):
        return Action.REMUX
    return Action.AS_IS


def scan_video(path: Path) -> Scan:
    """Decode every frame of the main video stream; BrokenResult when that fails anywhere."""
    try:
        with av.open(str(path)) as container:
            stream = main_video_stream(container)
            if stream is None:
                raise BrokenResult("no video stream")
            width, height = stream.codec_context.width, stream.codec_context.height
            if width * height > MAX_VIDEO_PIXELS:
                # Decoding even one such frame (and its reference frames) costs hundreds of MB.
                raise BrokenResult(f"{width}x{height} is larger than any provider makes")
            stream.thread_type = "AUTO"
            times, step, orientation, thumb = _decode_all(container, stream)
            audio = container.streams.audio
            header_s = container.duration / av.time_base if container.duration else 0.0
            layout = iso_layout(path)
            scan = Scan(
                brand=layout.brand,
                moov_first=layout.moov_first,
                codec=stream.codec_context.name,
                codec_tag=stream.codec_tag.strip("\x00 ") if stream.codec_tag else "",
                pix_fmt=stream.codec_context.pix_fmt or "",
                coded_width=stream.codec_context.width,
                coded_height=stream.codec_context.height,
                sar=pixel_aspect(stream),
                orientation=orientation,
                frames=len(times),
                claimed_frames=max(stream.frames, 0),
                frame_step_s=step,
                real_s=_real_length(times, step),
                span_s=times[-1] + step - times[0],
                header_s=max(header_s, layout.claimed_s),
                video_streams=len(container.streams.video),
                audio_codec=audio[0].codec_context.name if audio else None,
                audio_streams=len(audio),
                thumb=thumb,
            )
    except BrokenResult:
        raise
    except _AV_ERRORS as exc:
        raise BrokenResult(f"does not decode: {type(exc).__name__}: {exc}") from exc
    if scan.coded_width < 2 or scan.coded_height < 2:
        raise BrokenResult(f"degenerate size {scan.coded_width}x{scan.coded_height}")
    missing = scan.claimed_frames - scan.frames
    if missing > MISSING_FRAMES_TOLERANCE:
        raise BrokenResult(f"only {scan.frames} of {scan.claimed_frames} frames decode")
    return scan


def _decode_all(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> tuple[list[float], float, Orientation, Image.Image | None]:
    """Frame start times (s), the usual step, the orientation and an upright thumbnail."""
    times: list[float] = []
    orientation = AS_STORED
    thumb: Image.Image | None = None
    thumb_time: float | None = None
    first: float | None = None
    last_frame = None
    for frame in container.decode(stream):
        if frame.time is None:
            raise BrokenResult("a frame without a timestamp")
        if first is None:
            first = frame.time
            orientation = frame_orientation(frame)
        times.append(frame.time)
        if len(times) > MAX_FRAMES:
            raise BrokenResult(f"more than {MAX_FRAMES} frames")
        if thumb_time is None and frame.time - first >= THUMB_AT_S:
            thumb, thumb_time = _small_image(frame, orientation, stream), frame.time
        last_frame = frame
    if not times or last_frame is None:
        raise BrokenResult("no frame decodes")
    if thumb is None:  # shorter than THUMB_AT_S: the last frame
        thumb = _small_image(last_frame, orientation, stream)
    times.sort()
    steps = [b - a for a, b in itertools.pairwise(times) if b > a]
    step = statistics.median(steps) if steps else _nominal_step(stream)
    return times, step, orientation, thumb


def _nominal_step(stream: av.video.stream.VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate
    return float(1 / rate) if rate else 1 / 25


def _real_length(times: list[float], step: float) -> float:
    """The frames' length with every hole in the timestamps counted as one usual step."""
    gap = max(MIN_GAP_S, GAP_FACTOR * step)
    total = step
    for a, b in itertools.pairwise(times):
        delta = b - a
        total += step if delta > gap else delta
    return total


def _small_image(
    frame: av.VideoFrame, orientation: Orientation, stream: av.video.stream.VideoStream
) -> Image.Image:
    image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
    image = upright_image(image.convert("RGB"), orientation, pixel_aspect(stream))
    image.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return image


def write_thumbnail(image: Image.Image, out_path: Path) -> Path | None:
    """A JPEG under Telegram's 200 kB; None when it cannot be written."""
    try:
        for quality in (85, 70, 50, 30):
            image.save(out_path, "JPEG", quality=quality, optimize=True)
            if out_path.stat().st_size < THUMB_MAX_BYTES:
                return out_path
    except OSError as exc:
        log.warning("cannot write thumbnail %s: %s", out_path.name, exc)
    with contextlib.suppress(OSError):
        out_path.unlink()
    return None


@dataclass(frozen=True)
class IsoLayout:
    """What the top-level boxes of an ISO media file (MP4, MOV) say."""

    brand: bytes | None  # the major brand; None: not an ISO file (WebM, MKV ...)
    moov_first: bool  # `moov` before `mdat`, so a phone can start playing at once
    claimed_s: float  # the movie header's length (0 when absent)


def iso_layout(path: Path) -> IsoLayout:
    """Read only box headers (a seek per top-level box) and the movie header, never media."""
    brand: bytes | None = None
    with path.open("rb") as fh:
        size = path.stat().st_size
        offset = 0
        while offset + 8 <= size:
            fh.seek(offset)
            header = fh.read(16)
            box_size = int.from_bytes(header[:4], "big")
            kind = header[4:8]
            if box_size == 1 and len(header) >= 16:
                box_size = int.from_bytes(header[8:16], "big")
            elif box_size == 0:
                box_size = size - offset
            if kind == b"ftyp":
                fh.seek(offset + 8)
                brand = fh.read(4)
            if kind == b"moov":
                fh.seek(offset + 8)
                return IsoLayout(brand, True, _movie_header_s(fh.read(40)))
            if kind == b"mdat":
                return IsoLayout(brand, False, 0.0)
            if box_size < 8:
                break
            offset += box_size
    return IsoLayout(brand, True, 0.0)


def _movie_header_s(head: bytes) -> float:
    """The length an `mvhd` box (the first child of `moov`) claims, in seconds."""
    if len(head) < 32 or head[4:8] != b"mvhd":
        return 0.0
    if head[8] == 1:  # version 1: 64-bit times
        if len(head) < 40:
            return 0.0
        timescale = int.from_bytes(head[28:32], "big")
        duration = int.from_bytes(head[32:40], "big")
    else:
        timescale = int.from_bytes(head[20:24], "big")
        duration = int.from_bytes(head[24:28], "big")
    return duration / timescale if timescale else 0.0
