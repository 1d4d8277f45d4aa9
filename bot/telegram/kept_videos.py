"""Videos kept for /resend when Telegram holds no file id for them.

A video whose sendVideo answer was lost, or that a blocked or deleted chat refused, has no file
id to re-send from; a copy is kept beside the work files until /resend uploads it once, or for
`KEPT_FOR_S` (a week), after which the purge deletes it so the disk does not fill up.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

KEPT_FOR_S = 7 * 24 * 3600.0  # long enough for a user to unblock the bot and ask again


def kept_path(work_dir: Path, job_id: int) -> Path:
    """Where the kept copy of a job's video lives."""
    return work_dir / "kept" / f"job-{job_id}.mp4"


def keep_video(work_dir: Path, job_id: int, video: Path) -> Path | None:
    """Copy the prepared video aside; None (logged) if the disk refuses."""
    dest = kept_path(work_dir, job_id)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(video, dest)
    except OSError:
        log.exception("job %s: could not keep the video for /resend", job_id)
        return None
    return dest


def purge_kept(work_dir: Path, now: float, kept_for_s: float = KEPT_FOR_S) -> int:
    """Delete the kept videos older than `kept_for_s`; return how many went."""
    gone = 0
    for path in (work_dir / "kept").glob("job-*.mp4"):
        try:
            if now - path.stat().st_mtime < kept_for_s:
                continue
            path.unlink()
        except OSError:  # another replica purged it first, or the disk refuses: next time
            continue
        gone += 1
    if gone:
        log.info("purged %s kept videos older than %.0f days", gone, kept_for_s / 86400)
    return gone
