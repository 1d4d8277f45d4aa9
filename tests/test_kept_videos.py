"""Kept videos (for /resend after a lost answer or a blocked chat) do not fill the disk."""

from __future__ import annotations

import os
from pathlib import Path

from bot.telegram.kept_videos import KEPT_FOR_S, keep_video, kept_path, purge_kept

NOW = 2_000_000_000.0


def _kept(work_dir: Path, tmp_path: Path, job_id: int, age_s: float) -> Path:
    video = tmp_path / f"v{job_id}.mp4"
    video.write_bytes(b"\x00" * 16)
    kept = keep_video(work_dir, job_id, video)
    assert kept is not None and kept == kept_path(work_dir, job_id)
    os.utime(kept, (NOW - age_s, NOW - age_s))
    return kept


def test_the_purge_deletes_kept_videos_older_than_a_week_only(tmp_path: Path) -> None:
    work = tmp_path / "work"
    old = _kept(work, tmp_path, 1, KEPT_FOR_S + 60)
    fresh = _kept(work, tmp_path, 2, KEPT_FOR_S - 60)
    other = work / "kept" / "notes.txt"  # not ours: never touched
    other.write_text("x")
    os.utime(other, (0, 0))
    assert purge_kept(work, NOW) == 1
    assert not old.exists() and fresh.is_file() and other.is_file()
    assert purge_kept(work, NOW) == 0


def test_the_purge_of_a_work_dir_without_kept_videos_is_a_no_op(tmp_path: Path) -> None:
    assert purge_kept(tmp_path / "never-created", NOW) == 0
