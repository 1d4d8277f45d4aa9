"""/resend for a video Telegram holds no file id for: upload the kept copy, once."""

from __future__ import annotations

import logging

from telegram.error import TelegramError

from bot.jobs.context import JobContext
from bot.models import Job
from bot.telegram import views
from bot.telegram.kept_videos import kept_path
from bot.telegram.messenger import Target

log = logging.getLogger(__name__)


async def resend_kept(ctx: JobContext, job: Job, target: Target) -> bool:
    """Upload the kept video (its sendVideo answer was lost, or the chat refused it then) and
    keep the file id this time; False when there is nothing kept or Telegram refuses again.
    No charge either way: a lost answer was settled, a refused delivery refunded."""
    kept = kept_path(ctx.settings.work_dir, job.id)
    if not kept.is_file():
        return False
    try:
        sent = await ctx.messenger.send_video(
            target, kept, caption=views.caption(job, ctx.board.title_of(job)), width=None,
            height=None, duration=None, thumbnail=None, markup=None,
        )  # fmt: skip
    except TelegramError as exc:
        log.info("job %s: kept video not re-sent: %s", job.id, exc)
        return False
    if sent.file_id:
        await ctx.store.set_fields(job.id, {job.status}, video_file_id=sent.file_id)
        kept.unlink(missing_ok=True)
    return True
