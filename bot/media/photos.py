"""Check and clean a user's photo before any credit is spent (DESIGN.md §4).

Pure and synchronous: the caller runs `prepare_photo` in a worker thread. Every accepted photo is
decoded, turned upright, stripped of all metadata (EXIF/GPS, XMP, comments) by re-encoding it as a
fresh JPEG, and shrunk until it fits the model's byte limit.
"""

from __future__ import annotations

import importlib
import io
from dataclasses import dataclass
from enum import StrEnum

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from bot.catalog import MAX_IMAGE_BYTES, ModelSpec

MAX_PIXELS = 50_000_000  # decompression-bomb guard, checked from the header before decoding
MAX_SIDE_PX = 4096
JPEG_QUALITIES = (90, 80, 70)
SHRINK_FACTOR = 0.75
_MIN_SHRINK_SIDE_PX = 16  # below this a byte limit cannot be met by shrinking any further
_TURNED_ORIENTATIONS = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width and height


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

# sniffed kind -> the only Pillow decoders tried for it (fewer decoders, less attack surface)
_DECODERS: dict[str, tuple[str, ...]] = {
    "jpeg": ("JPEG", "MPO"),
    "png": ("PNG",),
    "webp": ("WEBP",),
    "heic": ("HEIF",),
}
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
)
_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})


class PhotoProblem(StrEnum):
    """Why a photo was refused."""

    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TOO_SMALL = "too_small"
    TOO_ELONGATED = "too_elongated"
    TOO_LARGE_PIXELS = "too_large_pixels"


class PhotoRejected(Exception):
    """The photo cannot be used; `details` carries the numbers a user message needs."""

    def __init__(self, problem: PhotoProblem, **details: int | float | str) -> None:
        super().__init__(f"{problem.value}: {details}" if details else problem.value)
        self.problem = problem
        self.details = details


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
    return _DECODERS.get(kind)


def prepare_photo(data: bytes, spec: ModelSpec | None = None) -> PreparedPhoto:
    """Decode, check against `spec`, strip metadata and re-encode as JPEG; raise PhotoRejected."""
    kind = sniff_image_type(data)
    if kind is None:
        raise PhotoRejected(PhotoProblem.NOT_AN_IMAGE)
    decoders = _decoders_for(kind)
    if decoders is None:
        raise PhotoRejected(PhotoProblem.UNSUPPORTED_FORMAT, format=kind)
    try:
        with Image.open(io.BytesIO(data), formats=decoders) as image:
            width, height = _upright_size(image)
            if width * height > MAX_PIXELS:
                raise PhotoRejected(
                    PhotoProblem.TOO_LARGE_PIXELS, pixels=width * height, max_pixels=MAX_PIXELS
                )
            _check_shape(width, height, spec)
            clean = _decode_clean(image)
    except Image.DecompressionBombError as exc:
        raise PhotoRejected(PhotoProblem.TOO_LARGE_PIXELS, max_pixels=MAX_PIXELS) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, KeyError) as exc:
        # Truncated or corrupt data surfaces from the decoders as any of these (KeyError: Pillow
        # looks up the MPO opener after a 3-byte JPEG fails, found by fuzzing).
        raise PhotoRejected(PhotoProblem.NOT_AN_IMAGE) from exc
    max_bytes = spec.max_bytes if spec is not None else MAX_IMAGE_BYTES
    encoded, final = _encode_within(clean, max_bytes)
    return PreparedPhoto(
        data=encoded,
        content_type="image/jpeg",
        width=final.width,
        height=final.height,
        changed=True,  # always re-encoded: that is how the metadata goes
    )


def _upright_size(image: Image.Image) -> tuple[int, int]:
    """Width and height as shown, read from the header (EXIF orientation applied)."""
    width, height = image.size
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # a broken EXIF block must not cost the user the photo
        orientation = 1
    return (height, width) if orientation in _TURNED_ORIENTATIONS else (width, height)


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


def _decode_clean(image: Image.Image) -> Image.Image:
    """Decode, shrink to MAX_SIDE_PX, turn upright and copy the pixels into a fresh RGB image."""
    image.thumbnail((MAX_SIDE_PX, MAX_SIDE_PX), Image.Resampling.LANCZOS)
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not cost the user the photo
        upright = image
    icc = _rgb_icc_profile(image)
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or (
        upright.mode == "P" and "transparency" in upright.info
    )
    # A fresh image has an empty `info`, so no EXIF, XMP or comment can ride along into the JPEG.
    clean = Image.new("RGB", upright.size, "white")
    if has_alpha:
        rgba = upright.convert("RGBA")
        clean.paste(rgba, mask=rgba.getchannel("A"))  # transparent areas become white
    else:
        clean.paste(upright if upright.mode == "RGB" else upright.convert("RGB"))
    if icc is not None:
        # Colour data, not personal data: dropping it would shift Display P3 photos' colours.
        clean.info["icc_profile"] = icc
    return clean


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
            raise PhotoRejected(PhotoProblem.TOO_LARGE_PIXELS, max_bytes=max_bytes)
        size = (max(1, int(width * SHRINK_FACTOR)), max(1, int(height * SHRINK_FACTOR)))
        image = image.resize(size, Image.Resampling.LANCZOS)
