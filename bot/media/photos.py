"""Check and clean a user's photo before any credit is spent (docs/architecture.md).

Pure and synchronous: the caller runs `prepare_photo` in a worker thread (at most
`MAX_DECODING_INTAKES` at once). The decision is made from the header first: format, size and
pixel count, and the memory the decode would take (`decode_cost`), before a single pixel is
decoded. Every accepted photo is then decoded (a JPEG at a reduced DCT scale when it is larger than
needed), brought to 8 bits per channel, flattened onto white when it has any transparency, turned
upright, stripped of all metadata (EXIF/GPS, XMP, comments) by re-encoding it as a fresh JPEG, and
shrunk until it fits the model's byte limit. Every decoder failure maps to a `PhotoProblem`.
"""

from __future__ import annotations

import importlib
import io
import math
import re
from dataclasses import dataclass
from enum import StrEnum

from PIL import ExifTags, Image, JpegImagePlugin, UnidentifiedImageError, features

from bot.catalog import MAX_IMAGE_BYTES, ModelSpec

MAX_PIXELS = 50_000_000  # decompression-bomb guard, checked from the header before decoding
# What one decode may allocate (Pillow's pixel buffers, a plugin's own buffer, the conversions
# needed before the first shrink). With the shrunk copies this keeps one intake under ~300 MB.
MAX_DECODE_BYTES = 200 * 1024 * 1024
MAX_DECODING_INTAKES = 2  # intakes decoding at once (the job service holds the slots)
MAX_SIDE_PX = 4096
DRAFT_SIDE_PX = MAX_SIDE_PX * 3 // 4
JPEG_QUALITIES = (90, 80, 70)
SHRINK_FACTOR = 0.75
_MIN_SHRINK_SIDE_PX = 16  # below this a byte limit cannot be met by shrinking any further
_TURNED_ORIENTATIONS = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width and height
# EXIF orientation -> the transpose that shows the picture upright (as ImageOps.exif_transpose).
_UPRIGHT: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Above this a shrink starts with a box-filter reduce (see _clean).
_BOX_REDUCE_ABOVE_BYTES = 64 * 1024 * 1024
_HIGH_BIT_GREY = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
# Bytes per pixel Pillow stores for a mode (1 for the 8-bit single-band ones, 4 for the rest).
_STORED_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
# Modes that must be converted (to 4-byte pixels) before they can be shrunk well.
_CONVERTED_FIRST = frozenset({"1", "P", "PA", "I", "F"})
# Pillow shrinks these through a premultiplied full-size copy.
_PREMULTIPLIED_TO_SHRINK = frozenset({"RGBA", "LA", "PA"})
# Decoders that fill a buffer of their own (8-bit RGBA or 16-bit RGB) before Pillow copies it.
_PLUGIN_BUFFER_BYTES = {"heic": 8, "avif": 8, "webp": 4}
# JPEG chroma sampling (JpegImagePlugin.get_sampling) -> DCT coefficient bytes per pixel;
# unknown (grey, CMYK, odd layouts): the 4-channel worst case.
_COEFFICIENT_BYTES = {0: 6, 1: 4, 2: 3}


def _register_heif() -> bool:
    """Teach Pillow HEIC/HEIF when the optional pillow-heif package is installed."""
    try:
        # Imported by name so the type checker and the install do not depend on it.
        module = importlib.import_module("pillow_heif")
    except ImportError:
        return False
    module.register_heif_opener()
    return True


HEIF_SUPPORTED = _register_heif()
AVIF_SUPPORTED = bool(features.check("avif"))  # Pillow reads AVIF when built with libavif

# sniffed kind -> the only Pillow decoders tried for it (fewer decoders, less attack surface).
# "JPEG" alone: its factory itself turns multi-picture files into MPO images, and Pillow has no
# separate "MPO" opener (asking for one raised KeyError on damaged JPEGs).
_DECODERS: dict[str, tuple[str, ...]] = {
    "jpeg": ("JPEG",),
    "png": ("PNG",),
    "webp": ("WEBP",),
    "heic": ("HEIF",),
    "avif": ("AVIF",),
}
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
)
_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")


class PhotoProblem(StrEnum):
    """Why a photo was refused."""

    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TOO_SMALL = "too_small"
    TOO_ELONGATED = "too_elongated"
    TOO_LARGE_PIXELS = "too_large_pixels"
    DAMAGED = "damaged"  # the header is fine but the picture data does not decode


class PhotoRejected(Exception):
    """The photo cannot be used; `details` carries the numbers a user message needs."""

    def __init__(self, problem: PhotoProblem, **details: int | float | str) -> None:
        super().__init__(f"{problem.value}: {details}" if details else problem.value)
        self.problem = problem
        self.details = details


def too_many_pixels(pixels: int, max_pixels: int = MAX_PIXELS) -> PhotoRejected:
    """TOO_LARGE_PIXELS with the numbers the user sees (in megapixels, one decimal)."""
    return PhotoRejected(
        PhotoProblem.TOO_LARGE_PIXELS,
        pixels=pixels,
        max_pixels=max_pixels,
        megapixels=f"{pixels / 1e6:.1f}",
        max_megapixels=f"{max_pixels / 1e6:.1f}",
    )


@dataclass(frozen=True)
class PreparedPhoto:
    """A checked, metadata-free photo ready to be hosted or rendered."""

    data: bytes
    content_type: str
    width: int
    height: int
    changed: bool


def sniff_image_type(data: bytes) -> str | None:
    """Name the image format from its magic bytes ("jpeg", "png", "heic", ...) or None."""
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "avif"
        if brand in _HEIF_BRANDS:
            return "heic"
        return None  # MP4, MOV and other ISO media files are not photos
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")):
        return "jxl"
    dib_header_size = int.from_bytes(head[14:18], "little") if len(head) >= 18 else 0
    if head[:2] == b"BM" and dib_header_size in _BMP_HEADER_SIZES:
        return "bmp"
    return None


def _decoders_for(kind: str) -> tuple[str, ...] | None:
    if kind == "heic" and not HEIF_SUPPORTED:
        return None
    if kind == "avif" and not AVIF_SUPPORTED:
        return None  # asking Pillow for an opener it lacks raises KeyError
    return _DECODERS.get(kind)


def decode_cost(kind: str, mode: str, width: int, height: int) -> int:
    """Bytes a decode of this header would allocate before the first shrink (an upper bound)."""
    per_pixel = _STORED_BYTES.get(mode, 4)
    if mode in _CONVERTED_FIRST:
        per_pixel += 4
    if mode in _PREMULTIPLIED_TO_SHRINK:
        per_pixel += 4
    per_pixel += _PLUGIN_BUFFER_BYTES.get(kind, 0)
    return width * height * per_pixel


def prepare_photo(data: bytes, spec: ModelSpec | None = None) -> PreparedPhoto:
    """Check the header, decode within budget, strip metadata, re-encode; raise PhotoRejected."""
    kind = sniff_image_type(data)
    if kind is None:
        raise PhotoRejected(PhotoProblem.NOT_AN_IMAGE)
    decoders = _decoders_for(kind)
    if decoders is None:
        raise PhotoRejected(PhotoProblem.UNSUPPORTED_FORMAT, format=kind)
    with _open(data, decoders) as image:
        _check_budget(kind, image)
        _decode(image)
        orientation = _orientation(image)
        width, height = image.size
        if orientation in _TURNED_ORIENTATIONS:
            width, height = height, width
        _check_shape(width, height, spec)
        try:
            clean = _clean(image, orientation)
        except MemoryError as exc:  # the budget is an estimate: never "something went wrong"
            raise too_many_pixels(width * height) from exc
    max_bytes = spec.max_bytes if spec is not None else MAX_IMAGE_BYTES
    encoded, final = _encode_within(clean, max_bytes)
    return PreparedPhoto(
        data=encoded,
        content_type="image/jpeg",
        width=final.width,
        height=final.height,
        changed=True,  # always re-encoded: that is how the metadata goes
    )


def _open(data: bytes, decoders: tuple[str, ...]) -> Image.Image:
    """Read the header only (Pillow decodes lazily); map every failure to a PhotoProblem."""
    try:
        return Image.open(io.BytesIO(data), formats=decoders)
    except Image.DecompressionBombError as exc:
        found = _BOMB_PIXELS.search(str(exc))
        raise too_many_pixels(int(found.group(1)) if found else MAX_PIXELS + 1) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise PhotoRejected(PhotoProblem.NOT_AN_IMAGE) from exc
    except Exception as exc:  # a plugin's own error type on a hostile header
        raise PhotoRejected(PhotoProblem.NOT_AN_IMAGE) from exc


def _check_budget(kind: str, image: Image.Image) -> None:
    """Refuse from the header: too many pixels, or a decode that would need too much memory."""
    width, height = image.size
    if width <= 0 or height <= 0:
        raise PhotoRejected(PhotoProblem.NOT_AN_IMAGE)
    pixels = width * height
    if pixels > MAX_PIXELS:
        raise too_many_pixels(pixels)
    if image.format == "JPEG":
        # DCT scaling: decode at 1/2, 1/4 or 1/8 when the photo is larger than we keep anyway
        # (the long side may end a little under MAX_SIDE_PX, never under 3/4 of it).
        scale = min(1.0, DRAFT_SIDE_PX / max(width, height))
        image.draft(image.mode, (max(1, round(width * scale)), max(1, round(height * scale))))
    mode = image.mode
    cost = decode_cost(kind, mode, *image.size)
    if isinstance(image, JpegImagePlugin.JpegImageFile) and image.info.get("progressive"):
        # A progressive decode keeps every DCT coefficient (2 bytes each) at full size.
        cost += pixels * _COEFFICIENT_BYTES.get(JpegImagePlugin.get_sampling(image), 8)
    if cost > MAX_DECODE_BYTES:
        per_pixel = max(1, cost // (image.size[0] * image.size[1]))
        raise too_many_pixels(pixels, min(MAX_PIXELS, MAX_DECODE_BYTES // per_pixel))


def _decode(image: Image.Image) -> None:
    """Decode every pixel now, so a damaged file is refused rather than sent half grey."""
    try:
        image.load()
    except (Image.DecompressionBombError, MemoryError) as exc:
        raise too_many_pixels(image.size[0] * image.size[1]) from exc
    except Exception as exc:  # truncated or corrupt data surfaces as many error types
        raise PhotoRejected(PhotoProblem.DAMAGED) from exc


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (read after the decode: for PNG reading EXIF may decode)."""
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # a broken EXIF block must not cost the user the photo
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _check_shape(width: int, height: int, spec: ModelSpec | None) -> None:
    if spec is None:
        return
    if min(width, height) < spec.min_side_px:
        raise PhotoRejected(
            PhotoProblem.TOO_SMALL, width=width, height=height, min_side=spec.min_side_px
        )
    ratio = max(width, height) / min(width, height)
    if spec.max_aspect is not None and ratio > spec.max_aspect:
        raise PhotoRejected(
            PhotoProblem.TOO_ELONGATED, ratio=round(ratio, 2), max_aspect=spec.max_aspect
        )


def _clean(image: Image.Image, orientation: int) -> Image.Image:
    """8-bit, shrunk to MAX_SIDE_PX, flattened, upright, in a fresh RGB image with no metadata."""
    icc = _rgb_icc_profile(image)
    work = _eight_bit(image)
    if work.mode in ("1", "P", "PA", "F"):
        # Palette and bilevel pictures cannot be resampled well as they are.
        work = work.convert("RGBA" if work.has_transparency_data else "RGB")
    factor = math.ceil(max(work.size) / MAX_SIDE_PX)
    if factor > 1 and _stored_bytes(work) > _BOX_REDUCE_ABOVE_BYTES:
        # A big decode: one box-filter pass (no full-height temporary as LANCZOS would need),
        # then let the decoded pixels go at once instead of at the end of the intake.
        smaller = work.reduce(factor)
        work.close()
        image.close()
        work = smaller
    work.thumbnail((MAX_SIDE_PX, MAX_SIDE_PX), Image.Resampling.LANCZOS)
    # A fresh image has an empty `info`, so no EXIF, XMP or comment can ride along into the JPEG.
    clean = Image.new("RGB", work.size, "white")
    if work.has_transparency_data:  # alpha, LA, PA or a tRNS colour key
        rgba = work if work.mode == "RGBA" else work.convert("RGBA")
        clean.paste(rgba, mask=rgba.getchannel("A"))  # transparent areas become white
    else:
        clean.paste(work if work.mode == "RGB" else work.convert("RGB"))
    work.close()
    turn = _UPRIGHT.get(orientation)
    if turn is not None:
        clean = clean.transpose(turn)
    if icc is not None:
        # Colour data, not personal data: dropping it would shift Display P3 photos' colours.
        clean.info["icc_profile"] = icc
    return clean


def _stored_bytes(image: Image.Image) -> int:
    return image.width * image.height * _STORED_BYTES.get(image.mode, 4)


def _eight_bit(image: Image.Image) -> Image.Image:
    """High bit depth grey (10/12/16-bit PNG and HEIF, stored as 16-bit) scaled down to L."""
    if image.mode not in _HIGH_BIT_GREY:
        return image
    if image.mode == "I":
        # 32-bit storage of a 16-bit range (older Pillow and some plugins): scale, then clip.
        return image.point(lambda value: value / 256).convert("L")
    raw_mode = "L;16B" if image.mode == "I;16B" else "L;16"  # the high byte of each sample
    return Image.frombytes("L", image.size, image.tobytes(), "raw", raw_mode)


def _rgb_icc_profile(image: Image.Image) -> bytes | None:
    """The ICC profile when it describes RGB data (a CMYK or grey one would be wrong on RGB)."""
    icc = image.info.get("icc_profile")
    if isinstance(icc, bytes) and len(icc) >= 20 and icc[16:20] == b"RGB ":
        return icc
    return None


def _encode_within(image: Image.Image, max_bytes: int) -> tuple[bytes, Image.Image]:
    """Encode as JPEG, lowering quality and then size until it fits in max_bytes."""
    icc = image.info.get("icc_profile")
    while True:
        for quality in JPEG_QUALITIES:
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=quality, icc_profile=icc)
            if buffer.tell() <= max_bytes:
                return buffer.getvalue(), image
        width, height = image.size
        if min(width, height) * SHRINK_FACTOR < _MIN_SHRINK_SIDE_PX:
            raise too_many_pixels(width * height)
        size = (max(1, int(width * SHRINK_FACTOR)), max(1, int(height * SHRINK_FACTOR)))
        image = image.resize(size, Image.Resampling.LANCZOS)
