"""Probe, thumbnail and silent-audio remux on files made here with PyAV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image

from bot.media.probe import ProbeError, add_silent_audio, make_thumbnail, probe_video
from bot.media.render import render_pan_zoom

RED, BLUE = (220, 20, 20), (20, 20, 220)
_from_image: Any = av.VideoFrame.from_image  # PyAV's stub leaves it untyped


def make_video(
    path: Path,
    width: int = 64,
    height: int = 32,
    *,
    fps: int = 8,
    frames: int = 8,
    rotate: int = 0,
) -> Path:
    """A video-only 8 fps H.264 MP4: left half red, right half blue; optional display rotation."""
    picture = Image.new("RGB", (width, height), BLUE)
    picture.paste(Image.new("RGB", (width // 2, height), RED), (0, 0))
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if rotate:
            stream.set_display_rotation(rotate)
        for i in range(frames):
            frame = _from_image(picture).reformat(format="yuv420p")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def make_rendered(tmp_path: Path) -> Path:
    """A video with audio: the renderer's own output."""
    photo = tmp_path / "in.png"
    Image.new("RGB", (96, 64), RED).save(photo)
    out = tmp_path / "rendered.mp4"
    render_pan_zoom(photo, out, duration_s=2, fps=8, max_side=96)
    return out


def video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.size]


def close_to(pixel: object, colour: tuple[int, int, int]) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(a - b) < 40 for a, b in zip(pixel, colour, strict=True))


def test_probe_reports_rendered_video(tmp_path: Path) -> None:
    info = probe_video(make_rendered(tmp_path))
    assert (info.width, info.height, info.codec, info.has_audio) == (96, 64, "h264", True)
    assert info.duration_s == pytest.approx(2.0, abs=0.13)
    assert info.rotation == 0


def test_probe_reports_missing_audio(tmp_path: Path) -> None:
    info = probe_video(make_video(tmp_path / "v.mp4", frames=16))
    assert (info.width, info.height, info.has_audio) == (64, 32, False)
    assert info.duration_s == pytest.approx(2.0, abs=0.13)


def test_probe_and_thumbnail_honour_rotation(tmp_path: Path) -> None:
    # Stored 64x32, displayed turned 90° counter-clockwise: 32 wide, 64 high, red at the bottom.
    video = make_video(tmp_path / "r.mp4", rotate=90)
    info = probe_video(video)
    assert (info.width, info.height, info.rotation) == (32, 64, 90)
    thumb = make_thumbnail(video, tmp_path / "t.jpg")
    assert thumb is not None
    with Image.open(thumb) as image:
        assert image.size == (32, 64)
        assert close_to(image.getpixel((16, 56)), RED)
        assert close_to(image.getpixel((16, 8)), BLUE)


def test_thumbnail_is_small_jpeg_of_the_picture(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.mp4", 640, 480)
    thumb = make_thumbnail(video, tmp_path / "t.jpg")
    assert thumb == tmp_path / "t.jpg"
    assert thumb.stat().st_size < 200 * 1024
    with Image.open(thumb) as image:
        assert image.format == "JPEG"
        assert image.size == (320, 240)
        assert close_to(image.getpixel((40, 120)), RED)
        assert close_to(image.getpixel((280, 120)), BLUE)


def test_add_silent_audio_copies_video_and_adds_aac(tmp_path: Path) -> None:
    source = make_video(tmp_path / "v.mp4", rotate=90, frames=16)
    out = tmp_path / "with_audio.mp4"
    assert add_silent_audio(source, out) is True
    assert video_packets(out) == video_packets(source)  # remuxed, not re-encoded
    info = probe_video(out)
    assert info.has_audio and info.rotation == 90 and info.codec == "h264"
    with av.open(str(out)) as container:
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "aac"
        assert audio.duration is not None and audio.time_base is not None
        assert float(audio.duration * audio.time_base) == pytest.approx(2.0, abs=0.13)
        assert container.streams.video[0].frames == 16
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4", "with_audio.mp4"]


def test_add_silent_audio_leaves_files_with_audio_alone(tmp_path: Path) -> None:
    out = tmp_path / "copy.mp4"
    assert add_silent_audio(make_rendered(tmp_path), out) is False
    assert not out.exists()


@pytest.mark.parametrize(
    "payload",
    [b"", b"hello, not a video", b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40],
)
def test_garbage_input(tmp_path: Path, payload: bytes) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(payload)
    with pytest.raises(ProbeError):
        probe_video(bad)
    assert make_thumbnail(bad, tmp_path / "t.jpg") is None
    with pytest.raises(ProbeError):
        add_silent_audio(bad, tmp_path / "out.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProbeError):
        probe_video(tmp_path / "gone.mp4")
    assert make_thumbnail(tmp_path / "gone.mp4", tmp_path / "t.jpg") is None


def test_audio_only_file_is_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "a.m4a"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=48_000)
        frame = av.AudioFrame(format="fltp", layout="stereo", samples=1024)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate, frame.pts = 48_000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(ProbeError):
        probe_video(path)
    assert make_thumbnail(path, tmp_path / "t.jpg") is None
    with pytest.raises(ProbeError):
        add_silent_audio(path, tmp_path / "out.mp4")
