"""Every provider result is checked before it is delivered or paid for, file to file.

`prepare_result(src, workdir)` is the one call delivery makes: it scans the file
(`bot.media.check`), then sends it untouched, remuxes or transcodes it (`bot.media.transcode`)
so that what goes out is MP4 with H.264 (or HEVC tagged `hvc1`) and AAC, and writes a thumbnail.
It raises `BrokenResult` for a file that is not a playable video. Blocking: run it in a thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from bot.media.check import Action, BrokenResult, choose_action, scan_video, write_thumbnail
from bot.media.transcode import remux_for_phones, transcode_to_h264

__all__ = ["BrokenResult", "PreparedVideo", "prepare_result"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedVideo:
    """The file to send and what sendVideo is told about it."""

    path: Path
    width: int  # as displayed
    height: int
    duration_s: float  # from the frames
    thumbnail: Path | None
    action: Action
    codec: str  # of the delivered file


def prepare_result(src: Path, workdir: Path) -> PreparedVideo:
    """Check `src` and return a phone-playable file in `src` or `workdir`; BrokenResult if not."""
    scan = scan_video(src)
    action = choose_action(scan)
    if action is Action.AS_IS:
        path, codec = src, scan.codec
        width, height = scan.display
    elif action is Action.REMUX:
        path = remux_for_phones(src, workdir / "remuxed.mp4", scan)
        codec = scan.codec
        width, height = scan.display
    else:
        path, (width, height) = transcode_to_h264(src, workdir / "transcoded.mp4", scan)
        codec = "h264"
    thumb = write_thumbnail(scan.thumb, workdir / "thumb.jpg") if scan.thumb else None
    log.info(
        "result %s: %s %s %dx%d %.2f s (%d frames) -> %s",
        src.name, scan.codec, scan.codec_tag, width, height, scan.real_s, scan.frames,
        action.value,
    )  # fmt: skip
    return PreparedVideo(path, width, height, round(scan.real_s, 3), thumb, action, codec)
