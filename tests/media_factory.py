"""Generated test media for issue 10: odd photos (Pillow) and odd provider videos (PyAV).

Every sample is made at test time from a known picture, so a test can check the outcome's pixels:
the picture is red on the left half and blue on the right half, with a green top-left quarter
(so a turn or a mirror is visible).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from PIL import Image

RED, BLUE, GREEN = (220, 20, 20), (20, 20, 220), (20, 200, 20)


def marked_picture(width: int, height: int) -> Image.Image:
    """Red left, blue right, green top-left quarter."""
    image = Image.new("RGB", (width, height), BLUE)
    image.paste(RED, (0, 0, width // 2, height))
    image.paste(GREEN, (0, 0, width // 2, height // 2))
    return image


def encode(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


@dataclass
class VideoSpec:
    """What `make_video` writes."""

    codec: str = "libx264"
    width: int = 64
    height: int = 48
    frames: int = 12
    fps: int = 12
    container: str = "mp4"
    pix_fmt: str = "yuv420p"
    codec_tag: str | None = None
    matrix: Sequence[int] | None = None
    rotation: tuple[float, bool, bool] | None = None  # degrees ccw, hflip, vflip
    audio: str | None = None  # an audio codec name ("aac", "libopus", "mp3") or None
    pts: Sequence[int] | None = None  # per-frame pts in 1/fps units (default 0, 1, 2 ...)
    options: dict[str, str] = field(default_factory=dict)  # muxer options (movflags ...)
    sar: Fraction | None = None
    second_video: tuple[int, int] | None = None  # size of an extra, smaller video stream


def make_video(path: Path, spec: VideoSpec | None = None) -> Path:
    """Encode the marked picture as a short video with the given oddities."""
    spec = spec or VideoSpec()
    codec_options = {"preset": "ultrafast"} if spec.codec in ("libx264", "libx265") else {}
    if spec.codec == "libx265":
        codec_options["x265-params"] = "log-level=none"
    if spec.codec == "libsvtav1":
        codec_options = {"preset": "12"}
    with av.open(str(path), "w", format=spec.container, options=spec.options) as container:
        video = container.add_stream(spec.codec, rate=spec.fps, options=codec_options)
        video.width, video.height, video.pix_fmt = spec.width, spec.height, spec.pix_fmt
        if spec.codec_tag:
            video.codec_tag = spec.codec_tag
        if spec.matrix is not None:
            video.set_display_matrix(spec.matrix)
        if spec.rotation is not None:
            degrees, hflip, vflip = spec.rotation
            video.set_display_rotation(degrees, hflip=hflip, vflip=vflip)
        if spec.sar is not None:
            video.codec_context.sample_aspect_ratio = spec.sar
        extra = None
        if spec.second_video is not None:
            extra = container.add_stream("libx264", rate=spec.fps, options={"preset": "ultrafast"})
            extra.width, extra.height, extra.pix_fmt = (*spec.second_video, "yuv420p")
        audio = None
        if spec.audio is not None:
            audio = container.add_stream(spec.audio, rate=48_000)
            audio.layout = "stereo"
        picture = marked_picture(spec.width, spec.height)
        pts = list(spec.pts) if spec.pts is not None else list(range(spec.frames))
        for i, stamp in enumerate(pts):
            shade = picture.point(lambda v, i=i: min(255, v + i))  # frames differ a little
            frame = av.VideoFrame.from_image(shade).reformat(format=spec.pix_fmt)
            frame.pts, frame.time_base = stamp, Fraction(1, spec.fps)
            container.mux(video.encode(frame))
            if extra is not None:
                small = av.VideoFrame.from_image(shade.resize(spec.second_video))
                small = small.reformat(format="yuv420p")
                small.pts, small.time_base = stamp, Fraction(1, spec.fps)
                container.mux(extra.encode(small))
        container.mux(video.encode(None))
        if extra is not None:
            container.mux(extra.encode(None))
        if audio is not None:
            _write_tone(container, audio, (pts[-1] + 1) / spec.fps)
    return path


def _write_tone(container: Any, audio: Any, seconds: float) -> None:
    frame_size = audio.codec_context.frame_size or 1024
    total = round(seconds * 48_000)
    done = 0
    while done < total:
        samples = min(frame_size, total - done)
        frame = av.AudioFrame(format=audio.format.name, layout="stereo", samples=samples)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate, frame.pts = 48_000, done
        done += samples
        container.mux(audio.encode(frame))
    container.mux(audio.encode(None))


def patch_box_duration(data: bytes, box: bytes, seconds: int) -> bytes:
    """Make a version-0 `mvhd`/`mdhd` claim `seconds` (timescale kept)."""
    at = data.index(box)
    version_at = at + 4
    if data[version_at] != 0:
        raise ValueError("only version 0 boxes are patched")
    timescale_at = version_at + 4 + 8
    (timescale,) = struct.unpack(">I", data[timescale_at : timescale_at + 4])
    duration = struct.pack(">I", timescale * seconds)
    return data[: timescale_at + 4] + duration + data[timescale_at + 8 :]


def init_only_mp4(data: bytes) -> bytes:
    """Only the `ftyp` and `moov` boxes of a fragmented MP4: no frame at all."""
    out = b""
    offset = 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8]
        if kind in (b"ftyp", b"moov"):
            out += data[offset : offset + size]
        offset += max(size, 8)
    return out


def decode_all(path: Path) -> tuple[int, float, Any]:
    """Frames decoded from the first video stream, its last frame time, and the container."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = 0
        last = 0.0
        for frame in container.decode(stream):
            frames += 1
            last = frame.time or 0.0
        return frames, last, {
            "video": [s.codec_context.name for s in container.streams.video],
            "audio": [s.codec_context.name for s in container.streams.audio],
            "tag": stream.codec_tag,
            "size": (stream.codec_context.width, stream.codec_context.height),
        }
