"""Delivery: claim the finished task, fetch the video, make it phone-friendly, send it, settle.

The claim (submitted → downloading) is the compare-and-set that makes duplicate callbacks and
poll races harmless. The only window bookkeeping cannot close is between Telegram accepting the
video and the database recording it: it is kept to one awaited call, and a crash there re-sends
(a duplicate is acceptable, a loss is not).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from telegram.error import BadRequest, ChatMigrated, NetworkError, TelegramError

from bot.faults import crash_point
from bot.jobs.context import JobContext
from bot.jobs.status_board import target_of
from bot.media.download import DownloadError, download_video
from bot.media.probe import ProbeError, probe_video
from bot.media.result import BrokenResult, PreparedVideo, prepare_result
from bot.models import FailureReason as R
from bot.models import Job, JobStatus, TaskEvent
from bot.providers.base import VideoProvider
from bot.storage.jobs import Credit
from bot.telegram import keyboards, views
from bot.telegram.chat_fates import answer_lost, chat_gone, never_sent
from bot.telegram.kept_videos import keep_video
from bot.telegram.messenger import SentVideo, Target
from bot.texts import t

log = logging.getLogger(__name__)
S = JobStatus
MAX_DELIVERY_CLAIMS = 5  # deliveries interrupted before sending, then the job is given up


async def deliver(ctx: JobContext, job: Job, provider: VideoProvider, event: TaskEvent) -> None:
    """Download and send a finished task's video exactly once."""
    claimed = await ctx.store.transition(job.id, {S.SUBMITTED}, S.DOWNLOADING, progress=100)
    if claimed.job is None:
        return  # another callback or poll is already delivering it, or the job was cancelled
    job = claimed.job
    crash_point("claimed")
    if await _attempted_too_often(ctx, job):
        return
    await ctx.board.refresh(job, force=False)
    work = ctx.settings.work_dir / f"job-{job.id}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        video = await _fetch(ctx, job, event, work)
        if video is None:
            return
        crash_point("downloaded")
        prepared = await _checked(ctx, job, event, video, work)
        if prepared is None:
            return
        # Built before `sending`: a caption that could not be built (it once looped forever)
        # is an attempt interrupted before sending, which _attempted_too_often counts.
        caption = views.caption(job, ctx.board.title_of(job))
        sending = await ctx.store.transition(job.id, {S.DOWNLOADING}, S.SENDING)
        if sending.job is None:
            return
        job = sending.job
        await ctx.board.refresh(job, force=False)
        await _send(ctx, job, prepared, caption)
    finally:
        _cleanup(work)
        if job.task_id:
            provider.discard(job.task_id)


async def _fetch(ctx: JobContext, job: Job, event: TaskEvent, work: Path) -> Path | None:
    """The result on disk, fully received and bounded (size, time, the job's deadline), or None
    when the job was failed (refunded) or went out as a link."""
    if event.video_path is not None:
        return event.video_path
    if not event.video_url:
        await ctx.board.fail(job, {S.DOWNLOADING}, R.DOWNLOAD, "finished task without a video URL")
        return None
    dest = work / "video.mp4"
    settings = ctx.settings
    budget = job.deadline_at - ctx.clock() if job.deadline_at is not None else None
    try:
        async with ctx.metrics.timed(job.provider or "unknown", "download"):
            size = await download_video(
                ctx.downloads,
                event.video_url,
                dest,
                max_bytes=max(settings.max_upload_bytes, settings.max_result_bytes),
                allow_private=settings.allow_private_urls,
                time_budget_s=budget,
            )
    except DownloadError as exc:
        # Too large to receive, endless, too slow or not a video: nobody pays for it.
        await ctx.board.fail(job, {S.DOWNLOADING}, R.DOWNLOAD, str(exc))
        return None
    log.info(
        "job %s downloaded %d bytes: user=%s provider=%s task=%s",
        job.id, size, job.user_id, job.provider, job.task_id,
    )  # fmt: skip
    if size > settings.max_upload_bytes:
        # Received in full and checked, but Telegram would refuse the upload: a link instead.
        try:
            await asyncio.to_thread(probe_video, dest)
        except ProbeError as exc:
            await ctx.board.fail(job, {S.DOWNLOADING}, R.DOWNLOAD, f"unreadable video: {exc}")
            return None
        await _send_link(ctx, job, event.video_url, size)
        return None
    return dest


async def _attempted_too_often(ctx: JobContext, job: Job) -> bool:
    """A delivery that never gets as far as sending (a hang or a crash at the same place,
    restart after restart) must not repeat until the deadline: after MAX_DELIVERY_CLAIMS such
    attempts the job fails and is refunded. Attempts that reached `sending` do not count: the
    video may have reached the user, so those are re-sent (a duplicate, never a free video)."""
    targets = [to for _, to, _at in await ctx.store.history(job.id)]
    interrupted = sum(
        1
        for i, to in enumerate(targets[:-1])  # the last one is this claim
        if to == S.DOWNLOADING.value and targets[i + 1] != S.SENDING.value
    )
    if interrupted < MAX_DELIVERY_CLAIMS:
        return False
    detail = f"delivery interrupted {interrupted} times before sending"
    await ctx.board.fail(job, {S.DOWNLOADING}, R.SEND, detail)
    return True


async def _checked(
    ctx: JobContext, job: Job, event: TaskEvent, video: Path, work: Path
) -> PreparedVideo | None:
    """Never send or charge for a video that does not play: check, fetch once more, or fail."""
    try:
        return await asyncio.to_thread(prepare_result, video, work)
    except BrokenResult as exc:
        reason = exc.reason
    if event.video_url:  # the first download may have been cut short: one more try
        log.warning("job %s: result does not play (%s); downloading it again", job.id, reason)
        again = await _fetch(ctx, job, event, work)
        if again is None:
            return None
        try:
            return await asyncio.to_thread(prepare_result, again, work)
        except BrokenResult as exc:
            reason = exc.reason
    ctx.metrics.broken_result(job.provider or "unknown")
    log.error(
        "job %s: broken result, not delivered: provider=%s task=%s reason=%s",
        job.id, job.provider, job.task_id, reason,
    )  # fmt: skip
    await ctx.board.fail(job, {S.DOWNLOADING}, R.BROKEN_RESULT, reason)
    return None


async def _send(ctx: JobContext, job: Job, prepared: PreparedVideo, caption: str) -> None:
    path = prepared.path
    crash_point("before_send")
    await ctx.messenger.upload_action(target_of(job))
    started = time.monotonic()
    try:
        sent = await _send_following(
            ctx,
            job,
            lambda target: ctx.messenger.send_video(
                target,
                path,
                caption=caption,
                width=prepared.width,
                height=prepared.height,
                duration=max(1, round(prepared.duration_s)),
                thumbnail=prepared.thumbnail,
                markup=keyboards.with_same_seed(
                    keyboards.delivered_keyboard(job.language, job.id, job.price),
                    job.language,
                    job.id,
                    job.seed,
                ),
            ),
        )
    except TelegramError as exc:
        if await _lost_or_gone(ctx, job, path, exc):
            return
        if not isinstance(exc, BadRequest):
            await ctx.board.fail(job, {S.SENDING}, R.SEND, f"{type(exc).__name__}: {exc}")
            return
        # Something about the extras (thumbnail, dimensions) may be what Telegram refused:
        # the video itself matters more, so try once more with the bare file.
        log.warning("job %s: sendVideo refused (%s); retrying without extras", job.id, exc)
        try:
            sent = await ctx.messenger.send_video(
                target_of(job), path, caption=caption, width=None,
                height=None, duration=None, thumbnail=None, markup=None,
            )  # fmt: skip
        except TelegramError as again:
            if not await _lost_or_gone(ctx, job, path, again):
                await ctx.board.fail(job, {S.SENDING}, R.SEND, str(again))
            return
    crash_point("after_send")
    ctx.metrics.delivered(path.stat().st_size, time.monotonic() - started)
    done = await ctx.store.transition(
        job.id, {S.SENDING}, S.DELIVERED, credit=Credit.SETTLE,
        video_file_id=sent.file_id, video_message_id=sent.message_id,
    )  # fmt: skip
    crash_point("delivered")
    if done.job is None:
        log.warning("job %s: video sent but the job had moved on (%s)", job.id, sent.message_id)
        return
    log.info(
        "job %s delivered: user=%s provider=%s task=%s message=%s",
        job.id, job.user_id, job.provider, job.task_id, sent.message_id,
    )  # fmt: skip
    await ctx.board.finish(done.job, refunded=0, notify=False)


async def _send_following(
    ctx: JobContext, job: Job, send: Callable[[Target], Awaitable[SentVideo]]
) -> SentVideo:
    """Send once more when the group became a supergroup (to the new id, and its jobs move
    with it) or when the connection failed before the request went out; never otherwise."""
    migrated = resent = False
    while True:
        try:
            return await send(target_of(job))
        except ChatMigrated as exc:
            if migrated:
                raise
            migrated = True
            old = ctx.messenger.moves.current(job.chat_id)
            await ctx.messenger.moves.moved(old, exc.new_chat_id)
        except NetworkError as exc:
            if resent or not never_sent(exc):
                raise
            resent = True
            log.info("job %s: sendVideo never left (%s); sending it again", job.id, exc)


async def _lost_or_gone(ctx: JobContext, job: Job, path: Path, exc: TelegramError) -> bool:
    """Settle a lost answer or end a job whose chat is gone; False for any other refusal."""
    if answer_lost(exc):
        await _answer_lost(ctx, job, path, exc)
        return True
    if chat_gone(exc):
        await _chat_gone(ctx, job, path, exc)
        return True
    return False


async def _answer_lost(ctx: JobContext, job: Job, path: Path, exc: TelegramError) -> None:
    """The upload went out and Telegram's answer was lost: it was most likely delivered, so
    it is settled (never refunded, never sent twice) and kept for /resend, which needs it:
    without the answer there is no file id."""
    keep_video(ctx.settings.work_dir, job.id, path)
    done = await ctx.store.transition(
        job.id, {S.SENDING}, S.DELIVERED, credit=Credit.SETTLE, note="sendVideo answer lost"
    )
    log.warning("job %s: sendVideo answer lost (%s); counted as delivered", job.id, exc)
    if done.job is not None:
        await ctx.board.finish(done.job, refunded=0, notify=False)


async def _chat_gone(ctx: JobContext, job: Job, path: Path, exc: TelegramError) -> None:
    """Blocked, deactivated, deleted chat or closed topic: no retry can deliver, so the job
    ends at once (refunded: the user did not get it), nothing more is sent there, and the
    video is kept so that /resend delivers it once the user is back."""
    keep_video(ctx.settings.work_dir, job.id, path)
    await ctx.board.fail(job, {S.SENDING}, R.SEND, str(exc), reach_user=False)


async def _send_link(ctx: JobContext, job: Job, url: str, size: int) -> None:
    """Too big to upload: the user gets the provider's link and when it stops working."""
    sending = await ctx.store.transition(job.id, {S.DOWNLOADING}, S.SENDING)
    if sending.job is None:
        return
    # issue 11: the provider's documented retention counts from generation, which happened
    # after submission: submitted_at + retention never promises more than the link lives.
    provider = ctx.registry.get(job.provider or "")
    retention = provider.result_retention_s if provider is not None else None
    size_mb = str(size // (1024 * 1024))
    if retention is None:
        text = t(job.language, "too_big_link_no_expiry", size_mb=size_mb, url=url)
    else:
        start = job.submitted_at if job.submitted_at is not None else ctx.clock()
        expires_at = datetime.fromtimestamp(start + retention, UTC)
        expires = expires_at.strftime("%Y-%m-%d %H:%M UTC")
        text = t(job.language, "too_big_link", size_mb=size_mb, url=url, expires=expires)
    message_id = await ctx.messenger.send_text(
        Target(job.chat_id, job.thread_id, job.photo_message_id), text
    )
    done = await ctx.store.transition(
        job.id, {S.SENDING}, S.DELIVERED, credit=Credit.SETTLE, video_message_id=message_id
    )
    if done.job is not None:
        await ctx.board.finish(done.job, refunded=0, notify=False)


def _cleanup(work: Path) -> None:
    for child in work.glob("*"):
        child.unlink(missing_ok=True)
    try:
        work.rmdir()
    except OSError:
        pass
