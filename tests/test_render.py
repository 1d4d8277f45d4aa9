"""The pan/zoom renderer, checked by opening what it wrote with PyAV."""

from __future__ import annotations

import array
import io
import itertools
import threading
from dataclasses import dataclass
from pathlib import Path

import av
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from bot.media import render
from bot.media.render import (
    ZOOM_END,
    InvalidImageError,
    RenderCancelled,
    RenderError,
    crop_box,
    even_size,
    render_pan_zoom,
)

FPS = 8
MAX_SIDE = 160


def make_photo(
    path: Path, width: int, height: int, *, exif_orientation: int | None = None
) -> Path:
    """A photo with structure everywhere (gradient, checkerboard, shapes), so motion shows."""
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    cell = max(4, min(width, height) // 10)
    for y in range(0, height, cell):
        for x in range(0, width, cell):
            shade = 200 if (x // cell + y // cell) % 2 else 40
            draw.rectangle(
                [x, y, x + cell - 1, y + cell - 1],
                fill=(x * 255 // width, shade, y * 255 // height),
            )
    draw.ellipse([width // 4, height // 4, width // 2, height // 2], fill=(255, 255, 0))
    if not exif_orientation:
        image.save(path)
    else:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        image.save(path, "JPEG", exif=exif.tobytes())
    return path


@dataclass
class Opened:
    format_name: str
    video_codec: str
    pix_fmt: str
    width: int
    height: int
    video_s: float
    frames: list[Image.Image]
    audio_codec: str
    audio_channels: int
    audio_s: float
    audio_nonzero: int


def open_mp4(path: Path) -> Opened:
    """Everything the assertions need, read back with PyAV."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        assert video.duration is not None and video.time_base is not None
        assert audio.duration is not None and audio.time_base is not None
        frames = [f.to_image() for f in container.decode(video)]  # type: ignore[no-untyped-call]
        container.seek(0)
        nonzero = 0
        for frame in container.decode(audio):
            for plane in frame.planes:
                samples = array.array("f", bytes(plane)[: frame.samples * 4])
                nonzero += sum(1 for s in samples if s != 0.0)
        return Opened(
            format_name=container.format.name,
            video_codec=video.codec_context.name,
            pix_fmt=video.codec_context.pix_fmt or "",
            width=video.codec_context.width,
            height=video.codec_context.height,
            video_s=float(video.duration * video.time_base),
            frames=frames,
            audio_codec=audio.codec_context.name,
            audio_channels=audio.codec_context.layout.nb_channels,
            audio_s=float(audio.duration * audio.time_base),
            audio_nonzero=nonzero,
        )


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


@pytest.mark.parametrize(("width", "height"), [(320, 200), (200, 320)])
def test_render_is_h264_aac_mp4_with_duration_aspect_and_motion(
    tmp_path: Path, width: int, height: int
) -> None:
    photo = make_photo(tmp_path / "in.png", width, height)
    out = tmp_path / "out.mp4"
    result = render_pan_zoom(photo, out, duration_s=3, fps=FPS, max_side=MAX_SIDE)

    got = open_mp4(out)
    assert "mp4" in got.format_name
    assert (got.video_codec, got.pix_fmt) == ("h264", "yuv420p")
    assert (got.audio_codec, got.audio_channels) == ("aac", 2)
    assert got.audio_nonzero == 0  # silent, not noise
    assert (got.width, got.height) == (result.width, result.height)
    assert got.width % 2 == 0 and got.height % 2 == 0
    assert max(got.width, got.height) == MAX_SIDE
    assert got.width / got.height == pytest.approx(width / height, rel=0.02)
    assert len(got.frames) == 3 * FPS
    assert got.video_s == pytest.approx(3, abs=1 / FPS)
    assert got.audio_s == pytest.approx(3, abs=1 / FPS)
    assert result.duration_s == 3 and result.size_bytes == out.stat().st_size
    # The camera moves: the last frame is a zoomed, shifted view of the first.
    assert mean_abs_diff(got.frames[0], got.frames[-1]) > 8
    # ...and the first frame is the whole photo.
    whole = Image.open(photo).convert("RGB").resize(got.frames[0].size)
    assert mean_abs_diff(got.frames[0], whole) < mean_abs_diff(got.frames[-1], whole)


def test_moov_atom_comes_first_for_streaming(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    render_pan_zoom(make_photo(tmp_path / "in.png", 64, 48), out, duration_s=1, fps=FPS)
    data = out.read_bytes()
    assert data[4:8] == b"ftyp"
    assert data.index(b"moov") < data.index(b"mdat")


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    # Stored landscape, EXIF 6 = "rotate 90° clockwise to display": the video must be portrait.
    photo = make_photo(tmp_path / "in.jpg", 320, 200, exif_orientation=6)
    result = render_pan_zoom(photo, tmp_path / "out.mp4", duration_s=1, fps=FPS, max_side=MAX_SIDE)
    assert (result.width, result.height) == (100, 160)


def test_small_photo_fills_a_video_of_sane_size(tmp_path: Path) -> None:
    # issue 10: a small photo is placed on a canvas with the long side at max_side
    photo = make_photo(tmp_path / "in.png", 100, 60)
    result = render_pan_zoom(photo, tmp_path / "out.mp4", duration_s=1, fps=FPS, max_side=MAX_SIDE)
    assert (result.width, result.height) == (160, 96)


def test_progress_rises_to_100_once(tmp_path: Path) -> None:
    seen: list[int] = []
    render_pan_zoom(
        make_photo(tmp_path / "in.png", 64, 48),
        tmp_path / "out.mp4",
        duration_s=2,
        fps=FPS,
        on_progress=seen.append,
    )
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert seen[0] > 0 and seen[-1] == 100 and seen.count(100) == 1


def test_cancel_before_start_leaves_no_file(tmp_path: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    out = tmp_path / "out.mp4"
    photo = make_photo(tmp_path / "in.png", 64, 48)
    with pytest.raises(RenderCancelled):
        render_pan_zoom(photo, out, duration_s=2, fps=FPS, cancel=cancel)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_cancel_midway_stops_at_next_frame(tmp_path: Path) -> None:
    cancel = threading.Event()
    seen: list[int] = []

    def progress(percent: int) -> None:
        seen.append(percent)
        if percent >= 30:
            cancel.set()

    photo = make_photo(tmp_path / "in.png", 64, 48)
    with pytest.raises(RenderCancelled):
        render_pan_zoom(
            photo, tmp_path / "out.mp4", duration_s=4, fps=FPS, cancel=cancel, on_progress=progress
        )
    assert max(seen) < 40  # it stopped right after the frame that set the event
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


@pytest.mark.parametrize("payload", [b"not an image at all", b"truncated"])
def test_undecodable_input_raises_invalid_image(tmp_path: Path, payload: bytes) -> None:
    bad = tmp_path / "bad.jpg"
    if payload == b"truncated":
        buf = io.BytesIO()
        Image.new("RGB", (200, 200), (9, 9, 9)).save(buf, "JPEG")
        payload = buf.getvalue()[:300]
    bad.write_bytes(payload)
    with pytest.raises(InvalidImageError) as info:
        render_pan_zoom(bad, tmp_path / "out.mp4", duration_s=1, fps=FPS)
    assert isinstance(info.value, RenderError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jpg"]


def test_missing_input_is_a_render_error_not_the_users(tmp_path: Path) -> None:
    with pytest.raises(RenderError) as info:
        render_pan_zoom(tmp_path / "gone.png", tmp_path / "out.mp4", duration_s=1, fps=FPS)
    assert not isinstance(info.value, InvalidImageError)


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [((1280, 960), 720, (720, 540)), ((321, 201), 160, (160, 100)), ((1, 1), 720, (2, 2))],
)
def test_even_size(size: tuple[int, int], max_side: int, expected: tuple[int, int]) -> None:
    assert even_size(*size, max_side) == expected


@pytest.mark.parametrize("landscape", [True, False])
def test_crop_window_zooms_smoothly_and_stays_inside(landscape: bool) -> None:
    w, h = (400, 300) if landscape else (300, 400)
    boxes = [crop_box(w, h, i / 100, landscape=landscape) for i in range(101)]
    assert boxes[0] == pytest.approx((0, 0, w, h))
    widths = [x1 - x0 for x0, _, x1, _ in boxes]
    assert widths[-1] == pytest.approx(w / ZOOM_END)
    assert all(a >= b for a, b in itertools.pairwise(widths))  # zooming in only
    for x0, y0, x1, y1 in boxes:
        assert -1e-9 <= x0 and x1 <= w + 1e-9 and -1e-9 <= y0 and y1 <= h + 1e-9
        assert (x1 - x0) / (y1 - y0) == pytest.approx(w / h)  # never distorts
    # Eased: the first and last steps are much smaller than the middle one.
    steps = [a - b for a, b in itertools.pairwise(widths)]
    assert steps[0] < steps[50] / 10 and steps[-1] < steps[50] / 10


def test_large_jpeg_is_decoded_reduced_and_still_right(tmp_path: Path) -> None:
    # A big JPEG takes the DCT-scaled decode path; the picture must be the same photo.
    photo = make_photo(tmp_path / "in.jpg", 1600, 1000, exif_orientation=1)
    out = tmp_path / "out.mp4"
    result = render_pan_zoom(photo, out, duration_s=1, fps=FPS, max_side=MAX_SIDE)
    assert (result.width, result.height) == (160, 100)
    first = open_mp4(out).frames[0]
    whole = Image.open(photo).convert("RGB").resize(first.size, Image.Resampling.LANCZOS)
    assert mean_abs_diff(first, whole) < 12  # x264 loss ~7.5; a 5 % crop or a flip is > 30


def test_oversized_photo_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "MAX_PIXELS", 100 * 100)
    photo = make_photo(tmp_path / "in.png", 101, 100)
    with pytest.raises(InvalidImageError, match="too large"):
        render_pan_zoom(photo, tmp_path / "out.mp4", duration_s=1, fps=FPS)
