"""Videos kept for /resend when Telegram holds no file id for them.

A video whose sendVideo answer was lost, or that a blocked or deleted chat refused, has no file
id to re-send from; a copy is kept beside the work files until /resend uploads it once.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


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
