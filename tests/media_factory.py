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
from av.stream import Disposition
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
    second_video: tuple[int, int] | None = None  # an extra, smaller video stream (stream 0)
    cover: bool = False  # a 400x400 attached picture as the FIRST video stream
    black_frames: int = 0  # the first frames are black (a fade-in)


def make_video(path: Path, spec: VideoSpec | None = None) -> Path:
    """Encode the marked picture as a short video with the given oddities."""
    spec = spec or VideoSpec()
    codec_options = {"preset": "ultrafast"} if spec.codec in ("libx264", "libx265") else {}
    if spec.codec == "libx265":
        codec_options["x265-params"] = "log-level=none"
    if spec.codec == "libsvtav1":
        codec_options = {"preset": "12"}
    with av.open(str(path), "w", format=spec.container, options=spec.options) as container:
        cover = _add_cover(container) if spec.cover else None
        extra = None
        if spec.second_video is not None:  # added first, so it is stream 0
            extra = container.add_stream("libx264", rate=spec.fps, options={"preset": "ultrafast"})
            extra.width, extra.height, extra.pix_fmt = (*spec.second_video, "yuv420p")
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
        audio = None
        if spec.audio is not None:
            audio = container.add_stream(spec.audio, rate=48_000)
            audio.layout = "stereo"
        if cover is not None:  # once every stream is added: the first mux writes the header
            _write_cover(container, cover)
        picture = marked_picture(spec.width, spec.height)
        pts = list(spec.pts) if spec.pts is not None else list(range(spec.frames))
        for i, stamp in enumerate(pts):
            shade = picture.point(lambda v, i=i: min(255, v + i))  # frames differ a little
            if i < spec.black_frames:
                shade = Image.new("RGB", picture.size, "black")
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


def _add_cover(container: Any) -> Any:
    cover = container.add_stream("mjpeg")
    cover.width, cover.height, cover.pix_fmt = 400, 400, "yuvj420p"
    cover.disposition = Disposition.attached_pic
    return cover


def _write_cover(container: Any, cover: Any) -> None:
    frame = av.VideoFrame.from_image(Image.new("RGB", (400, 400), "white"))
    frame = frame.reformat(format="yuvj420p")
    frame.pts = 0
    for packet in [*cover.encode(frame), *cover.encode(None)]:
        container.mux(packet)


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


def _boxes(data: bytes, start: int, end: int) -> list[tuple[int, int, bytes]]:
    """(offset, size, kind) of the boxes in data[start:end]."""
    found = []
    offset = start
    while offset + 8 <= end:
        size = int.from_bytes(data[offset : offset + 4], "big")
        found.append((offset, size, data[offset + 4 : offset + 8]))
        offset += max(size, 8)
    return found


def stretch_last_frame(data: bytes, seconds: int) -> bytes:
    """Make the first track's last sample last `seconds` in its `stts` (moov must come last).

    The header then claims a length its frames do not have, as some providers' files do.
    """
    path: list[tuple[int, int]] = []  # (offset, size) of every box from moov down to stts
    start, end = 0, len(data)
    for kind in (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stts"):
        offset, size, _ = next(b for b in _boxes(data, start, end) if b[2] == kind)
        path.append((offset, size))
        start, end = offset + 8, offset + size
    mdhd = data.index(b"mdhd", path[1][0])
    (timescale,) = struct.unpack(">I", data[mdhd + 16 : mdhd + 20])
    stts_at, stts_size = path[-1]
    entries = struct.unpack(">I", data[stts_at + 12 : stts_at + 16])[0]
    table = [
        struct.unpack(">II", data[stts_at + 16 + 8 * i : stts_at + 24 + 8 * i])
        for i in range(entries)
    ]
    count, delta = table[-1]
    table = [*table[:-1], *([(count - 1, delta)] if count > 1 else []), (1, timescale * seconds)]
    body = struct.pack(">I", len(table)) + b"".join(struct.pack(">II", *e) for e in table)
    new_stts = struct.pack(">I", 16 + len(body) - 4) + b"stts" + data[stts_at + 8 : stts_at + 12]
    new_stts += body
    grow = len(new_stts) - stts_size
    out = bytearray(data[:stts_at] + new_stts + data[stts_at + stts_size :])
    for offset, size in path[:-1]:
        out[offset : offset + 4] = struct.pack(">I", size + grow)
    return bytes(out)


def webm_claiming(data: bytes, seconds: int) -> bytes:
    """A WebM whose Segment Info Duration (an 8-byte float in milliseconds) claims `seconds`."""
    at = data.index(b"\x44\x89\x88") + 3
    return data[:at] + struct.pack(">d", seconds * 1000.0) + data[at + 8 :]


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


@dataclass
class Decoded:
    """Everything a player would get from a delivered file's first video stream."""

    frames: int
    first_s: float
    last_s: float
    video_codecs: list[str]
    audio_codecs: list[str]
    audio_s: float
    codec_tag: str
    coded_size: tuple[int, int]
    format_name: str
    first_image: Image.Image


def decode_all(path: Path) -> Decoded:
    """Decode every video frame and every audio frame of `path`."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [frame.time or 0.0 for frame in container.decode(stream)]
        container.seek(0)
        first = next(container.decode(stream)).to_image()
    audio_s = 0.0
    with av.open(str(path)) as container:
        if container.streams.audio:
            audio = container.streams.audio[0]
            samples = sum(frame.samples for frame in container.decode(audio))
            audio_s = samples / (audio.codec_context.sample_rate or 48_000)
        return Decoded(
            frames=len(times),
            first_s=min(times) if times else 0.0,
            last_s=max(times) if times else 0.0,
            video_codecs=[s.codec_context.name for s in container.streams.video],
            audio_codecs=[s.codec_context.name for s in container.streams.audio],
            audio_s=audio_s,
            codec_tag=container.streams.video[0].codec_tag,
            coded_size=(
                container.streams.video[0].codec_context.width,
                container.streams.video[0].codec_context.height,
            ),
            format_name=container.format.name,
            first_image=first,
        )
