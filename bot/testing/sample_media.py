"""Tiny real media for fakes and tests: an H.264/AAC MP4 and a photo with visible structure.

Usage:
    video = make_sample_mp4(1.0)              # bytes of a playable MP4 (cached)
    photo = make_sample_photo(640, 480, "PNG")
    big = make_big_file(51 * 1024 * 1024)     # a real MP4 padded past Telegram's 50 MB limit
"""

from __future__ import annotations

import io
from fractions import Fraction
from functools import lru_cache
from typing import Any

import av
from PIL import Image, ImageChops, ImageDraw

_AUDIO_RATE = 44100
_AAC_FRAME = 1024  # samples per AAC frame
# PyAV's stubs leave from_image untyped; binding it as Any keeps mypy --strict quiet.
_from_image: Any = av.VideoFrame.from_image


def _gradient(width: int, height: int) -> Image.Image:
    """An RGB gradient: red varies left to right, green top to bottom, blue fixed."""
    vertical = Image.linear_gradient("L")  # 256x256, black at the top
    red = vertical.rotate(90).transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((width, height))
    green = vertical.resize((width, height))
    blue = Image.new("L", (width, height), 128)
    return Image.merge("RGB", (red, green, blue))


def _frame_image(index: int, frames: int, base: Image.Image) -> Image.Image:
    """Frame `index`: the gradient scrolled and a white square moved, so there is motion."""
    width, height = base.size
    image = ImageChops.offset(base, width * index // max(frames, 1), 0)
    side = max(2, min(width, height) // 4)
    x0 = (width - side) * index // max(frames - 1, 1)
    ImageDraw.Draw(image).rectangle(
        [x0, height // 3, x0 + side - 1, height // 3 + side - 1], fill=(255, 255, 255)
    )
    return image


@lru_cache(maxsize=16)
def make_sample_mp4(
    seconds: float = 1.0,
    width: int = 64,
    height: int = 48,
    *,
    with_audio: bool = True,
    fps: int = 12,
) -> bytes:
    """Encode a small H.264 (yuv420p) MP4, with silent AAC audio when `with_audio`."""
    # yuv420p needs even dimensions.
    width, height = width + width % 2, height + height % 2
    frames = max(1, round(seconds * fps))
    base = _gradient(width, height)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        video: Any = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast"}
        audio: Any = None
        if with_audio:
            audio = container.add_stream("aac", rate=_AUDIO_RATE)
            audio.layout = "stereo"
        for i in range(frames):
            frame = _from_image(_frame_image(i, frames, base)).reformat(format="yuv420p")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio is not None:
            _encode_silence(container, audio, frames / fps)
    return buf.getvalue()


def _encode_silence(container: Any, stream: Any, seconds: float) -> None:
    """Mux `seconds` of silent stereo AAC into `container`."""
    total = int(seconds * _AUDIO_RATE)
    pts = 0
    while pts < total:
        n = min(_AAC_FRAME, total - pts)
        frame = av.AudioFrame(format="fltp", layout="stereo", samples=n)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))  # all-zero floats: silence
        frame.sample_rate = _AUDIO_RATE
        frame.pts = pts
        frame.time_base = Fraction(1, _AUDIO_RATE)
        container.mux(stream.encode(frame))
        pts += n
    container.mux(stream.encode(None))


@lru_cache(maxsize=16)
def make_sample_photo(width: int = 640, height: int = 480, fmt: str = "JPEG") -> bytes:
    """Render a photo with a gradient, a grid and shapes so pan/zoom motion is visible."""
    image = _gradient(width, height)
    draw = ImageDraw.Draw(image)
    step = max(8, min(width, height) // 8)
    for x in range(0, width, step):
        draw.line([(x, 0), (x, height)], fill=(255, 255, 255), width=1)
    for y in range(0, height, step):
        draw.line([(0, y), (width, y)], fill=(255, 255, 255), width=1)
    w, h = width, height
    draw.ellipse([w * 0.15, h * 0.2, w * 0.45, h * 0.6], fill=(220, 40, 40), outline=(0, 0, 0))
    draw.rectangle([w * 0.55, h * 0.5, w * 0.85, h * 0.85], fill=(30, 30, 200), outline=(0, 0, 0))
    draw.polygon(
        [(w * 0.5, h * 0.1), (w * 0.65, h * 0.4), (w * 0.35, h * 0.4)], fill=(250, 220, 0)
    )
    out = io.BytesIO()
    name = "JPEG" if fmt.upper() in ("JPEG", "JPG") else fmt.upper()
    image.save(out, format=name, **({"quality": 85} if name == "JPEG" else {}))
    return out.getvalue()


def make_big_file(size: int) -> bytes:
    """A valid tiny MP4 followed by padding up to `size` bytes (for "over 50 MB" paths).

    The padding is one trailing MP4 `free` box, so the file still opens in players and PyAV;
    only its size matters to the tests that use it.
    """
    head = make_sample_mp4(1.0, with_audio=False)
    pad = size - len(head)
    if pad < 8:
        return head
    # A 32-bit box size covers everything below 4 GiB, far beyond any test's needs.
    return head + pad.to_bytes(4, "big") + b"free" + bytes(pad - 8)
