"""How a video is meant to be shown: the main stream, its display matrix and its pixel shape.

A display matrix (3x3, 16.16 fixed point, as stored in MP4 `tkhd` and attached by FFmpeg to
decoded frames) maps a stored pixel (x, y) to the shown one: x' = a*x + c*y, y' = b*x + d*y with
a, b, c, d = m[0], m[1], m[3], m[4] (image coordinates, y pointing down). Only the eight
axis-aligned transforms (rotations of 0/90/180/270 degrees, each with or without a mirror) are
honoured; any other matrix is snapped to the nearest of them, and a degenerate one (all zero, or
one that flattens the picture) means "as stored". Every function here is blocking PyAV/Pillow
work.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from av.container import InputContainer
from av.sidedata.sidedata import SideData
from av.sidedata.sidedata import Type as SideDataType
from av.stream import Disposition
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from PIL import Image

_MATRIX = struct.Struct("<9i")


@dataclass(frozen=True)
class Orientation:
    """The transform that shows stored pixels upright, as Pillow's transpose (None: as stored)."""

    transpose: Image.Transpose | None = None
    rotation: int = 0  # degrees counter-clockwise, 0/90/180/270
    mirrored: bool = False

    @property
    def swaps_sides(self) -> bool:
        return self.rotation in (90, 270)


AS_STORED = Orientation()
# (sign a, sign b, sign c, sign d) -> how a player shows the picture
_TRANSFORMS: dict[tuple[int, int, int, int], Orientation] = {
    (1, 0, 0, 1): AS_STORED,
    (-1, 0, 0, 1): Orientation(Image.Transpose.FLIP_LEFT_RIGHT, 0, True),
    (1, 0, 0, -1): Orientation(Image.Transpose.FLIP_TOP_BOTTOM, 180, True),
    (-1, 0, 0, -1): Orientation(Image.Transpose.ROTATE_180, 180),
    (0, -1, 1, 0): Orientation(Image.Transpose.ROTATE_90, 90),  # x' = y, y' = -x
    (0, 1, -1, 0): Orientation(Image.Transpose.ROTATE_270, 270),  # x' = -y, y' = x
    (0, 1, 1, 0): Orientation(Image.Transpose.TRANSPOSE, 90, True),
    (0, -1, -1, 0): Orientation(Image.Transpose.TRANSVERSE, 270, True),
}


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def orientation_from_matrix(raw: bytes | None) -> Orientation:
    """Read a 36-byte display matrix; anything unusable means "as stored"."""
    if raw is None or len(raw) < _MATRIX.size:
        return AS_STORED
    m = _MATRIX.unpack_from(raw)
    a, b, c, d = m[0], m[1], m[3], m[4]
    if a * d - b * c == 0:
        return AS_STORED  # all zero or flattening: no player can show that, so ignore it
    if abs(a) >= abs(b):  # closer to 0/180 degrees than to 90/270
        key = (_sign(a), 0, 0, _sign(d))
    else:
        key = (0, _sign(b), _sign(c), 0)
    return _TRANSFORMS.get(key, AS_STORED)


def frame_orientation(frame: VideoFrame) -> Orientation:
    """The orientation FFmpeg attached to a decoded frame (from the stream's display matrix)."""
    # PyAV's stub types the container as one item; at run time it iterates SideData objects.
    items: Iterable[SideData] = frame.side_data  # type: ignore[assignment]
    for side_data in items:
        if side_data.type == SideDataType.DISPLAYMATRIX:
            return orientation_from_matrix(bytes(side_data))
    return AS_STORED


def pixel_aspect(stream: VideoStream) -> Fraction:
    """The sample (pixel) aspect ratio; 1 when unknown or nonsensical."""
    sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
    if sar is None or sar <= 0 or not Fraction(1, 8) <= sar <= 8:
        return Fraction(1)
    return Fraction(sar)


def display_size(
    width: int, height: int, sar: Fraction, orientation: Orientation
) -> tuple[int, int]:
    """Width and height as a player shows them: pixel aspect applied, then turned."""
    if sar > 1:
        width = round(width * sar)
    elif sar < 1:
        height = round(height / sar)
    return (height, width) if orientation.swaps_sides else (width, height)


def is_attached_picture(stream: VideoStream) -> bool:
    return bool(stream.disposition & Disposition.attached_pic)


def main_video_stream(container: InputContainer) -> VideoStream | None:
    """The stream a player shows: the one with most pixels, never a cover picture."""
    candidates = [s for s in container.streams.video if not is_attached_picture(s)]
    if not candidates:
        return None
    return max(candidates, key=lambda s: s.codec_context.width * s.codec_context.height)


def upright_image(image: Image.Image, orientation: Orientation, sar: Fraction) -> Image.Image:
    """A decoded picture as a player shows it (square pixels, turned, mirrored)."""
    width, height = display_size(image.width, image.height, sar, AS_STORED)
    if (width, height) != image.size:
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    if orientation.transpose is not None:
        image = image.transpose(orientation.transpose)
    return image
