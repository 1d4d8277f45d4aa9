"""Issue 10: provider results of every odd kind, generated with PyAV at test time.

Each result either comes out of `prepare_result` as a file phones play (MP4, H.264 or HEVC
tagged hvc1, AAC no longer than the picture; every frame decodes) with the right metadata and
thumbnail, or is refused with `BrokenResult`. Also the local renderer's canvas (finding 8).
"""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageOps, ImageStat

from bot.media import check
from bot.media.check import iso_layout, scan_video
from bot.media.geometry import orientation_from_matrix
from bot.media.render import render_pan_zoom
from bot.media.result import BrokenResult, PreparedVideo, prepare_result
from tests.media_factory import (
    VideoSpec,
    decode_all,
    init_only_mp4,
    make_video,
    marked_picture,
    patch_box_duration,
    stretch_last_frame,
    webm_claiming,
)

AAC_FRAME_S = 1024 / 48_000
FASTSTART = {"movflags": "+faststart"}
FRAGMENTED = {"movflags": "frag_keyframe+empty_moov"}


def prepared(tmp_path: Path, spec: VideoSpec, name: str = "src") -> PreparedVideo:
    src = make_video(tmp_path / f"{name}.bin", spec)
    work = tmp_path / f"work-{name}"
    work.mkdir()
    return prepare_result(src, work)


def assert_phone_playable(result: PreparedVideo, frames: int) -> None:
    """MP4 (not MOV), H.264/HEVC tagged for phones, every frame decodes, audio within the video."""
    got = decode_all(result.path)
    layout = iso_layout(result.path)
    assert layout.brand not in (None, b"qt  ") and layout.moov_first
    assert got.video_codecs[0] in ("h264", "hevc")
    assert got.codec_tag == {"h264": "avc1", "hevc": "hvc1"}[got.video_codecs[0]]
    assert got.audio_codecs == ["aac"]
    assert got.frames == frames
    video_s = got.last_s - got.first_s + result.duration_s / frames
    assert got.audio_s <= video_s + AAC_FRAME_S
    assert result.duration_s == pytest.approx(video_s, abs=0.01)


def differs(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, after bringing b to a's size."""
    b = b.convert("RGB").resize(a.size)
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b)).mean) / 3


# -- finding 1: a broken result is never delivered ---------------------------------------------


def test_init_only_mp4_is_broken(tmp_path: Path) -> None:
    spec = VideoSpec(audio="aac", options={"movflags": "frag_keyframe+empty_moov"})
    fragmented = make_video(tmp_path / "frag.mp4", spec).read_bytes()
    src = tmp_path / "init.mp4"
    src.write_bytes(init_only_mp4(fragmented))
    with pytest.raises(BrokenResult, match="no frame decodes"):
        prepare_result(src, tmp_path)


def test_file_cut_in_half_is_broken(tmp_path: Path) -> None:
    spec = VideoSpec(audio="aac", frames=48, options={"movflags": "+faststart"})
    whole = make_video(tmp_path / "whole.mp4", spec).read_bytes()
    src = tmp_path / "half.mp4"
    src.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(BrokenResult, match="frames decode"):
        prepare_result(src, tmp_path)


def test_a_video_larger_than_any_provider_makes_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check, "MAX_VIDEO_PIXELS", 64 * 48 - 1)
    src = make_video(tmp_path / "big.mp4", VideoSpec(width=64, height=48))
    with pytest.raises(BrokenResult, match="64x48 is larger"):
        prepare_result(src, tmp_path)


@pytest.mark.parametrize("data", [b"", b"<html>502 Bad Gateway</html>", b"\x00" * 4096])
def test_not_a_video_is_broken(tmp_path: Path, data: bytes) -> None:
    src = tmp_path / "video.mp4"
    src.write_bytes(data)
    with pytest.raises(BrokenResult):
        prepare_result(src, tmp_path)


def test_mp4_header_claiming_3900_s_is_rewritten_to_the_frames_length(tmp_path: Path) -> None:
    spec = VideoSpec(audio="aac", frames=24, options={"movflags": "+faststart"})
    honest = make_video(tmp_path / "honest.mp4", spec)
    src = tmp_path / "liar.mp4"
    src.write_bytes(patch_box_duration(honest.read_bytes(), b"mvhd", 3900))
    assert iso_layout(src).claimed_s == pytest.approx(3900)

    result = prepare_result(src, tmp_path)

    assert result.action == "remux" and result.duration_s == pytest.approx(2.0, abs=0.01)
    assert iso_layout(result.path).claimed_s < 2.1  # the delivered header tells the truth
    assert_phone_playable(result, 24)


def test_webm_header_claiming_3900_s_is_not_told_to_telegram(tmp_path: Path) -> None:
    spec = VideoSpec(codec="libvpx-vp9", container="webm", frames=24)
    src = tmp_path / "liar.webm"
    src.write_bytes(webm_claiming(make_video(tmp_path / "honest.webm", spec).read_bytes(), 3900))
    assert scan_video(src).header_s == pytest.approx(3900)

    result = prepare_result(src, tmp_path)

    assert result.duration_s == pytest.approx(2.0, abs=0.01)
    assert_phone_playable(result, 24)


# -- finding 6: the silent-track remux keeps the video stream untouched -------------------------


@pytest.mark.parametrize("tag", ["hvc1", None])
def test_hevc_without_audio_keeps_or_gets_the_hvc1_tag(tmp_path: Path, tag: str | None) -> None:
    result = prepared(tmp_path, VideoSpec(codec="libx265", codec_tag=tag))
    assert result.action == "remux" and result.codec == "hevc"
    assert decode_all(result.path).codec_tag == "hvc1"  # iPhones refuse hev1
    assert_phone_playable(result, 12)


def test_remux_copies_rotation_and_timestamps(tmp_path: Path) -> None:
    src = make_video(tmp_path / "src.mp4", VideoSpec(rotation=(90, False, False), frames=12))
    result = prepare_result(src, tmp_path)
    assert result.action == "remux" and (result.width, result.height) == (48, 64)
    assert scan_video(result.path).orientation == scan_video(src).orientation
    assert scan_video(result.path).orientation.rotation == 90
    before, after = decode_all(src), decode_all(result.path)
    assert (after.first_s, after.last_s, after.frames) == (before.first_s, before.last_s, 12)


def test_a_last_frame_claiming_3900_s_never_becomes_3900_s_of_audio(tmp_path: Path) -> None:
    honest = make_video(tmp_path / "honest.mp4", VideoSpec(frames=24))  # no audio, moov last
    src = tmp_path / "long-last.mp4"
    src.write_bytes(stretch_last_frame(honest.read_bytes(), 3900))

    result = prepare_result(src, tmp_path)

    assert result.action == "remux" and result.duration_s == pytest.approx(2.0, abs=0.01)
    assert_phone_playable(result, 24)
    assert decode_all(result.path).audio_s <= 2.0 + AAC_FRAME_S
    assert result.path.stat().st_size < 100_000


def test_timestamp_gap_never_becomes_hours_of_audio(tmp_path: Path) -> None:
    six_hours = 12 * 3600 * 6  # in 1/12 s
    spec = VideoSpec(pts=[0, 1, 2, 3, six_hours, six_hours + 1])
    result = prepared(tmp_path, spec)
    assert result.duration_s == pytest.approx(0.5, abs=0.01)
    assert result.path.stat().st_size < 100_000
    assert_phone_playable(result, 6)
    assert decode_all(result.path).audio_s <= 0.5 + AAC_FRAME_S


@pytest.mark.parametrize(
    ("name", "spec"),
    [
        ("av1", VideoSpec(codec="libsvtav1", width=64, height=64)),
        ("vp9-webm", VideoSpec(codec="libvpx-vp9", container="webm", audio="libopus")),
        ("prores-mov", VideoSpec(codec="prores_ks", container="mov", pix_fmt="yuv422p10le")),
        ("h264-10bit", VideoSpec(pix_fmt="yuv420p10le")),
        ("mpeg4", VideoSpec(codec="mpeg4")),
        ("h264-mp3", VideoSpec(audio="mp3")),
    ],
)
def test_what_phones_do_not_play_is_transcoded_to_h264_aac(
    tmp_path: Path, name: str, spec: VideoSpec
) -> None:
    result = prepared(tmp_path, spec, name)
    assert result.action == "transcode" and result.codec == "h264"
    assert_phone_playable(result, spec.frames)
    # the picture survived: left red, right blue, green top-left
    expected = marked_picture(spec.width, spec.height)
    assert differs(decode_all(result.path).first_image, expected) < 12


@pytest.mark.parametrize(
    ("name", "spec", "action"),
    [
        ("h264-aac-faststart", VideoSpec(audio="aac", options=FASTSTART), "as_is"),
        ("fragmented", VideoSpec(audio="aac", options=FRAGMENTED), "as_is"),
        ("moov-at-end", VideoSpec(audio="aac"), "remux"),
        ("no-audio", VideoSpec(), "remux"),
        ("mov-h264", VideoSpec(container="mov", audio="aac"), "remux"),
        ("hevc-aac", VideoSpec(codec="libx265", codec_tag="hvc1", audio="aac"), "remux"),
    ],
)  # fmt: skip
def test_phone_friendly_results_are_kept_or_only_remuxed(
    tmp_path: Path, name: str, spec: VideoSpec, action: str
) -> None:
    result = prepared(tmp_path, spec, name)
    assert result.action == action
    assert_phone_playable(result, spec.frames)
    if action == "as_is":
        assert result.path.name == f"{name}.bin"


# -- finding 7: geometry -------------------------------------------------------------------------


def player_view(picture: Image.Image, degrees: int, hflip: bool, vflip: bool) -> Image.Image:
    """What a player shows: turned counter-clockwise, then mirrored (FFmpeg's flip order)."""
    shown = picture.rotate(degrees, expand=True)
    if hflip:
        shown = ImageOps.mirror(shown)
    if vflip:
        shown = ImageOps.flip(shown)
    return shown


@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
@pytest.mark.parametrize(("hflip", "vflip"), [(False, False), (True, False), (False, True)])
def test_thumbnail_and_size_follow_rotation_and_flips(
    tmp_path: Path, degrees: int, hflip: bool, vflip: bool
) -> None:
    spec = VideoSpec(width=96, height=48, rotation=(degrees, hflip, vflip))
    result = prepared(tmp_path, spec)
    shown = player_view(marked_picture(96, 48), degrees, hflip, vflip)
    assert (result.width, result.height) == shown.size
    assert result.thumbnail is not None
    assert differs(Image.open(result.thumbnail), shown) < 12


def test_all_zero_display_matrix_does_not_swap_sides(tmp_path: Path) -> None:
    result = prepared(tmp_path, VideoSpec(width=80, height=48, matrix=[0] * 9))
    assert (result.width, result.height) == (80, 48)
    assert result.thumbnail is not None
    assert differs(Image.open(result.thumbnail), marked_picture(80, 48)) < 12


def test_odd_matrices_snap_to_the_nearest_quarter_turn() -> None:
    one = 1 << 16
    # 30 degrees: closer to no turn than to a quarter turn
    cos30, sin30 = round(0.866 * one), round(0.5 * one)
    tilted = struct.pack("<9i", cos30, -sin30, 0, sin30, cos30, 0, 0, 0, 1 << 30)
    assert orientation_from_matrix(tilted).rotation == 0
    flat = struct.pack("<9i", one, 0, 0, one, 0, 0, 0, 0, 1 << 30)  # rank 1
    assert orientation_from_matrix(flat).transpose is None
    assert orientation_from_matrix(b"short").transpose is None


def test_main_stream_is_the_largest_not_a_cover_or_a_small_first_stream(tmp_path: Path) -> None:
    spec = VideoSpec(width=96, height=64, cover=True, second_video=(32, 16), audio="aac")
    result = prepared(tmp_path, spec)
    assert (result.width, result.height) == (96, 64)
    got = decode_all(result.path)
    assert got.video_codecs == ["h264"] and got.coded_size == (96, 64)  # extras dropped
    assert_phone_playable(result, spec.frames)


def test_pixel_aspect_ratio_is_applied(tmp_path: Path) -> None:
    result = prepared(tmp_path, VideoSpec(width=64, height=48, sar=Fraction(2, 1)))
    assert (result.width, result.height) == (128, 48)
    assert result.action == "transcode"  # square pixels out: no player can get it wrong
    assert decode_all(result.path).coded_size == (128, 48)
    assert_phone_playable(result, 12)


def test_thumbnail_time_counts_from_the_stream_start(tmp_path: Path) -> None:
    # The stream starts at 10 s with half a second of black (a fade-in).
    spec = VideoSpec(pts=range(120, 132), black_frames=6)
    result = prepared(tmp_path, spec)
    assert result.thumbnail is not None
    thumb = Image.open(result.thumbnail).convert("L")
    assert ImageStat.Stat(thumb).mean[0] > 40  # the picture, not the black fade-in


# -- finding 8: the local renderer never makes tiny or degenerate videos ----------------------


@pytest.mark.parametrize(
    ("size", "expected"), [((7, 3000), (404, 720)), ((1, 1), (720, 720)), ((3000, 7), (720, 404))]
)
def test_local_render_puts_odd_photos_on_a_sane_canvas(
    tmp_path: Path, size: tuple[int, int], expected: tuple[int, int]
) -> None:
    photo = tmp_path / "in.png"
    Image.new("RGB", size, (230, 30, 30)).save(photo)
    out = tmp_path / "out.mp4"
    result = render_pan_zoom(photo, out, duration_s=1, fps=2, max_side=720)
    assert (result.width, result.height) == expected
    got = decode_all(out)
    assert got.coded_size == expected and got.frames == 2
    middle = got.first_image.getpixel((expected[0] // 2, expected[1] // 2))
    assert isinstance(middle, tuple) and middle[0] > 120 > 2 * middle[2]  # the photo is in view
