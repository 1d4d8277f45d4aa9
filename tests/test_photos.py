"""prepare_photo and sniff_image_type on images made in memory with Pillow."""

from __future__ import annotations

import io
import os
import struct
import zlib

import pytest
from PIL import ExifTags, Image, ImageCms, PngImagePlugin

from bot.catalog import ModelSpec, OptionSpec
from bot.media import photos
from bot.media.photos import PhotoProblem, PhotoRejected, prepare_photo, sniff_image_type

HAPPYHORSE = ModelSpec(
    key="happyhorse",
    title="HappyHorse",
    options=(OptionSpec("duration", ("5",), "5"),),
    min_side_px=300,
    max_aspect=2.5,
)
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>secret-xmp</rdf:RDF></x:xmpmeta>'


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def two_halves(width: int, height: int, left: str, right: str) -> Image.Image:
    image = Image.new("RGB", (width, height), right)
    image.paste(Image.new("RGB", (width // 2, height), left), (0, 0))
    return image


def exif_with(orientation: int, gps: bool = False) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "SecretCam"
    if gps:
        exif[ExifTags.Base.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (55.0, 45.0, 0.0),
        }
    return exif


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a size; the pixel data is never reached."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_exif_orientation_applied_and_all_metadata_stripped() -> None:
    source = two_halves(800, 400, "red", "blue")  # shown rotated 90° clockwise: red on top
    data = encode(
        source, "JPEG", exif=exif_with(6, gps=True), xmp=XMP, comment=b"secret-comment", quality=95
    )
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # precondition

    result = prepare_photo(data, HAPPYHORSE)

    assert (result.width, result.height) == (400, 800)
    assert result.content_type == "image/jpeg"
    assert result.changed
    out = decoded(result.data)
    assert out.format == "JPEG"
    assert out.size == (400, 800)
    assert len(out.getexif()) == 0
    assert not out.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert "xmp" not in out.info and "comment" not in out.info
    for secret in (b"Exif\x00\x00", b"SecretCam", b"secret-xmp", b"secret-comment"):
        assert secret not in result.data
    top, bottom = out.getpixel((200, 100)), out.getpixel((200, 700))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 200 and top[2] < 60  # red
    assert bottom[2] > 200 and bottom[0] < 60  # blue


def test_png_with_alpha_is_flattened_onto_white_jpeg() -> None:
    image = Image.new("RGBA", (320, 320), (0, 160, 0, 255))
    image.paste(Image.new("RGBA", (160, 320), (255, 0, 0, 0)), (0, 0))  # transparent red
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "secret-png-text")
    data = encode(image, "PNG", pnginfo=text)

    result = prepare_photo(data, HAPPYHORSE)

    out = decoded(result.data)
    assert out.format == "JPEG" and out.mode == "RGB"
    left, right = out.getpixel((40, 160)), out.getpixel((280, 160))
    assert isinstance(left, tuple) and isinstance(right, tuple)
    assert min(left) > 245  # white, not the hidden red
    assert right[1] > 140 and right[0] < 40 and right[2] < 40
    assert b"secret-png-text" not in result.data


def test_webp_becomes_jpeg_without_exif() -> None:
    data = encode(two_halves(640, 480, "yellow", "navy"), "WEBP", exif=exif_with(1), quality=90)
    assert sniff_image_type(data) == "webp"

    result = prepare_photo(data, HAPPYHORSE)

    out = decoded(result.data)
    assert (out.format, out.size) == ("JPEG", (640, 480))
    assert len(out.getexif()) == 0
    assert b"SecretCam" not in result.data


def test_cmyk_and_greyscale_become_rgb() -> None:
    for image in (Image.new("CMYK", (400, 400), (0, 255, 255, 0)), Image.new("L", (400, 400), 90)):
        out = decoded(prepare_photo(encode(image, "JPEG")).data)
        assert out.mode == "RGB" and out.size == (400, 400)


def test_rgb_icc_profile_is_kept() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(Image.new("RGB", (400, 400), "teal"), "JPEG", icc_profile=icc)

    out = decoded(prepare_photo(data).data)

    assert out.info.get("icc_profile") == icc


def test_noise_image_of_11_mb_fits_under_10_mb() -> None:
    width, height = 2000, 1900
    data = encode(Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)), "PNG")
    assert len(data) > 11_000_000 > HAPPYHORSE.max_bytes

    result = prepare_photo(data, HAPPYHORSE)

    assert len(result.data) <= HAPPYHORSE.max_bytes
    assert decoded(result.data).size == (width, height)


def test_quality_then_size_reduced_until_byte_limit_met() -> None:
    side = 800
    noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    tight = ModelSpec(key="t", title="t", options=(), max_bytes=150_000)
    assert len(encode(noise, "JPEG", quality=70)) > tight.max_bytes  # quality alone cannot do it

    result = prepare_photo(encode(noise, "PNG"), tight)

    assert len(result.data) <= tight.max_bytes
    out = decoded(result.data)
    assert out.size == (result.width, result.height)
    assert result.width < side and result.width == result.height


def test_long_side_capped_at_4096() -> None:
    data = encode(Image.new("RGB", (6000, 1500), "orange"), "JPEG")

    result = prepare_photo(data)

    assert (result.width, result.height) == (4096, 1024)
    assert decoded(result.data).size == (4096, 1024)


def test_too_small_reports_upright_size() -> None:
    data = encode(Image.new("RGB", (400, 299), "grey"), "JPEG", exif=exif_with(6))

    with pytest.raises(PhotoRejected) as caught:
        prepare_photo(data, HAPPYHORSE)

    assert caught.value.problem is PhotoProblem.TOO_SMALL
    assert caught.value.details == {"width": 299, "height": 400, "min_side": 300}


def test_too_elongated_and_the_boundary() -> None:
    with pytest.raises(PhotoRejected) as caught:
        prepare_photo(encode(Image.new("RGB", (1000, 300), "grey"), "JPEG"), HAPPYHORSE)
    assert caught.value.problem is PhotoProblem.TOO_ELONGATED
    assert caught.value.details == {"ratio": 3.33, "max_aspect": 2.5}

    exact = prepare_photo(encode(Image.new("RGB", (300, 750), "grey"), "JPEG"), HAPPYHORSE)
    assert (exact.width, exact.height) == (300, 750)


def test_no_spec_accepts_any_shape() -> None:
    result = prepare_photo(encode(Image.new("RGB", (40, 4), "grey"), "PNG"))
    assert (result.width, result.height) == (40, 4)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is not an image at all",
        os.urandom(4096),
        b"\x00\x00\x00\x18ftypmp42" + bytes(100),  # an MP4 is not a photo
    ],
)
def test_garbage_is_not_an_image(data: bytes) -> None:
    with pytest.raises(PhotoRejected) as caught:
        prepare_photo(data)
    assert caught.value.problem is PhotoProblem.NOT_AN_IMAGE


def test_truncated_jpeg_is_damaged() -> None:
    side = 300
    full = encode(Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)), "JPEG")

    with pytest.raises(PhotoRejected) as caught:
        prepare_photo(full[: len(full) // 2])

    # issue 10: a readable header with missing picture data is "damaged", not "not an image"
    assert caught.value.problem is PhotoProblem.DAMAGED


def test_gif_is_unsupported() -> None:
    with pytest.raises(PhotoRejected) as caught:
        prepare_photo(encode(Image.new("P", (400, 400)), "GIF"))
    assert caught.value.problem is PhotoProblem.UNSUPPORTED_FORMAT
    assert caught.value.details == {"format": "gif"}


@pytest.mark.parametrize(("width", "height"), [(8000, 7000), (20000, 20000)])
def test_decompression_bomb_is_refused_before_decoding(width: int, height: int) -> None:
    # 56 MP trips our own limit; 400 MP trips Pillow's DecompressionBombError at open.
    with pytest.raises(PhotoRejected) as caught:
        prepare_photo(png_header_only(width, height))
    assert caught.value.problem is PhotoProblem.TOO_LARGE_PIXELS


def test_heic_without_pillow_heif_is_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(photos, "HEIF_SUPPORTED", False)
    data = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)

    with pytest.raises(PhotoRejected) as caught:
        prepare_photo(data)

    assert caught.value.problem is PhotoProblem.UNSUPPORTED_FORMAT


def test_heic_is_converted_when_pillow_heif_is_installed() -> None:
    pytest.importorskip("pillow_heif")
    assert photos.HEIF_SUPPORTED
    data = encode(two_halves(480, 360, "red", "blue"), "HEIF")
    assert sniff_image_type(data) == "heic"

    result = prepare_photo(data, HAPPYHORSE)

    out = decoded(result.data)
    assert (out.format, out.size) == ("JPEG", (480, 360))


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "png"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (b"GIF89a\x01\x00", "gif"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00", "heic"),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00", "heic"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00", "avif"),
        (b"II*\x00\x08\x00\x00\x00", "tiff"),
        (b"BM" + bytes(12) + struct.pack("<I", 40) + bytes(8), "bmp"),
        (b"BM this is text", None),
        (b"\x00\x00\x00\x18ftypisom\x00\x00", None),
        (b"<html><body>", None),
        (b"", None),
    ],
)
def test_sniff_image_type(data: bytes, kind: str | None) -> None:
    assert sniff_image_type(data) == kind
