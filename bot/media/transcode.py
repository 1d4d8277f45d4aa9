"""Making a checked result phone-playable, file to file (see `bot.media.check`).

`remux_for_phones` puts the same video packets (codec tag, display matrix and timestamps kept)
into a fresh MP4 with the moov atom first, the AAC track copied or, when there is none, a silent
one exactly as long as the video's frames. `transcode_to_h264` decodes and re-encodes the main
stream once to H.264 yuv420p (upright, square pixels, long side at most `MAX_SIDE`, a constant
frame rate, so timestamp holes disappear) with AAC audio, bounded in frames and wall time.
Blocking PyAV work: call it in a worker thread.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
from av.audio.resampler import AudioResampler
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.stream import VideoStream
from PIL import Image

from bot.media.check import GAP_FACTOR, MIN_GAP_S, BrokenResult, Scan
from bot.media.geometry import AS_STORED, main_video_stream, upright_image
from bot.media.render import AUDIO_CHUNK, AUDIO_RATE, MP4_OPTIONS, X264_OPTIONS, SilentAudio

MAX_SIDE = 1920  # no provider sells more than 1080p; a larger picture is scaled down
TRANSCODE_BUDGET_S = 300.0  # wall time for one re-encode on a busy machine
# The tag phones need in MP4 for each codec we copy (the mp4 muxer's default for HEVC is `hev1`,
# which iPhones and Macs refuse).
_MP4_TAGS = {"h264": "avc1", "hevc": "hvc1"}
_AV_ERRORS = (av.FFmpegError, OSError, ValueError, IndexError, EOFError, MemoryError)


def remux_for_phones(src: Path, out_path: Path, scan: Scan) -> Path:
    """Copy the main video stream untouched (and the AAC track, or silence) into a new MP4."""
    with _atomic(out_path) as tmp:
        with av.open(str(src)) as source, _mp4(tmp) as dst:
            video_in = main_video_stream(source)
            if video_in is None:
                raise BrokenResult("no video stream")
            video_out = dst.add_stream_from_template(video_in)
            video_out.codec_tag = _MP4_TAGS[scan.codec]
            audio_in = source.streams.audio[0] if source.streams.audio else None
            if audio_in is not None:
                audio_out: AudioStream | None = dst.add_stream_from_template(audio_in)
                silence = None
                streams: tuple[VideoStream | AudioStream, ...] = (video_in, audio_in)
            else:
                audio_out, silence, streams = None, SilentAudio(dst), (video_in,)
            start = video_in.start_time or 0
            time_base = video_in.time_base
            for packet in source.demux(*streams):
                if packet.dts is None:  # the demuxer's end-of-stream marker
                    continue
                if packet.stream is video_in:
                    _no_long_frame(packet, scan)
                    if silence is not None and packet.pts is not None and time_base is not None:
                        # Silence alongside the video, so the muxer never buffers a whole stream;
                        # never beyond the frames' real length, whatever a timestamp says.
                        silence.write_until(
                            min(float((packet.pts - start) * time_base), scan.real_s)
                        )
                    packet.stream = video_out
                elif audio_out is not None:
                    packet.stream = audio_out
                dst.mux(packet)
            if silence is not None:
                silence.write_until(scan.real_s)
                silence.flush()
    return out_path


def _no_long_frame(packet: av.Packet[Any], scan: Scan) -> None:
    """A frame that claims to last far longer than the usual step lasts one step (a lying
    `stts` would otherwise carry its hour-long last frame into the new file)."""
    time_base = packet.time_base
    if packet.duration is None or time_base is None:
        return
    if float(packet.duration * time_base) > max(MIN_GAP_S, GAP_FACTOR * scan.frame_step_s):
        packet.duration = max(1, round(scan.frame_step_s / time_base))


def transcode_to_h264(src: Path, out_path: Path, scan: Scan) -> tuple[Path, tuple[int, int]]:
    """Re-encode once to H.264 + AAC MP4; returns the path and the (upright) output size."""
    width, height = _even_fit(*scan.display)
    deadline = time.monotonic() + TRANSCODE_BUDGET_S
    with _atomic(out_path) as tmp:
        with av.open(str(src)) as source, _mp4(tmp) as dst:
            video_in = main_video_stream(source)
            if video_in is None:
                raise BrokenResult("no video stream")
            video_in.thread_type = "AUTO"
            fps = scan.fps
            video_out = dst.add_stream("libx264", rate=fps, options=X264_OPTIONS)
            video_out.width, video_out.height, video_out.pix_fmt = width, height, "yuv420p"
            audio_in = source.streams.audio[0] if source.streams.audio else None
            audio = _AudioCopy(dst, scan.real_s)
            streams: tuple[VideoStream | AudioStream, ...] = (
                (video_in, audio_in) if audio_in is not None else (video_in,)
            )
            index = 0
            for packet in source.demux(*streams):
                if time.monotonic() > deadline:
                    raise BrokenResult(f"conversion took over {TRANSCODE_BUDGET_S:.0f} s")
                if packet.stream is audio_in:
                    for audio_frame in packet.decode():
                        if isinstance(audio_frame, av.AudioFrame):
                            audio.add(audio_frame)
                    continue
                for frame in packet.decode():
                    if not isinstance(frame, av.VideoFrame):
                        continue
                    out = _convert(frame, scan, width, height)
                    # A constant rate: holes in the source's timestamps vanish.
                    out.pts, out.time_base = index, 1 / fps
                    index += 1
                    dst.mux(video_out.encode(out))
                    if audio_in is None:
                        audio.silence_until(float(index / fps))
            dst.mux(video_out.encode(None))
            if index == 0:
                raise BrokenResult("no frame decodes")
            audio.finish(float(index / fps))
    return out_path, (width, height)


def _convert(frame: av.VideoFrame, scan: Scan, width: int, height: int) -> av.VideoFrame:
    """One frame upright, with square pixels, at the output size, as yuv420p."""
    if scan.orientation == AS_STORED:
        return frame.reformat(width=width, height=height, format="yuv420p")
    image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
    image = upright_image(image, scan.orientation, scan.sar)
    turned: av.VideoFrame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
    return turned.reformat(width=width, height=height, format="yuv420p")


class _AudioCopy:
    """AAC for the output: the source's audio re-encoded, or silence; never past `limit_s`."""

    def __init__(self, dst: OutputContainer, limit_s: float) -> None:
        self._silence = SilentAudio(dst)
        self._dst = dst
        self._limit = round(limit_s * AUDIO_RATE)
        self._resampler = AudioResampler(
            format="fltp", layout="stereo", rate=AUDIO_RATE, frame_size=AUDIO_CHUNK
        )
        self._written = 0
        self._used = False

    def add(self, frame: av.AudioFrame) -> None:
        self._used = True
        frame.pts = None  # let the resampler count samples from zero
        for chunk in self._resampler.resample(frame):
            self._encode(chunk)

    def silence_until(self, seconds: float) -> None:
        self._silence.write_until(min(seconds, self._limit / AUDIO_RATE))

    def finish(self, video_s: float) -> None:
        if self._used:
            for chunk in self._resampler.resample(None):
                self._encode(chunk)
            self._dst.mux(self._silence.stream.encode(None))
        else:
            self.silence_until(video_s)
            self._silence.flush()

    def _encode(self, chunk: av.AudioFrame) -> None:
        room = self._limit - self._written
        if room < chunk.samples:
            return  # past the video's end: dropped, so the audio never outlasts the picture
        chunk.pts = self._written
        self._written += chunk.samples
        self._dst.mux(self._silence.stream.encode(chunk))


def _even_fit(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, MAX_SIDE / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


@contextlib.contextmanager
def _mp4(path: Path) -> Iterator[OutputContainer]:
    with av.open(str(path), "w", format="mp4", options=MP4_OPTIONS) as container:
        yield container


@contextlib.contextmanager
def _atomic(out_path: Path) -> Iterator[Path]:
    """Write next to the target and rename at the end; map PyAV failures to BrokenResult."""
    tmp = out_path.with_name(f"{out_path.name}.part")
    try:
        yield tmp
        os.replace(tmp, out_path)
    except BrokenResult:
        raise
    except _AV_ERRORS as exc:
        raise BrokenResult(f"cannot convert: {type(exc).__name__}: {exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
