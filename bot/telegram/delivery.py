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
from datetime import UTC, datetime, timedelta
from pathlib import Path

from telegram.error import BadRequest, Forbidden, TelegramError

from bot.faults import crash_point
from bot.jobs.context import JobContext
from bot.jobs.notify import fail_job, finish, refresh_status, target_of, title_of
from bot.media.download import DownloadError, download_video
from bot.media.probe import ProbeError, VideoInfo, add_silent_audio, make_thumbnail, probe_video
from bot.models import Job, JobStatus, TaskEvent
from bot.providers.base import VideoProvider
from bot.storage.jobs import Credit
from bot.telegram import keyboards, views
from bot.telegram.messenger import Target
from bot.texts import t

log = logging.getLogger(__name__)
S = JobStatus
RESULT_URL_LIFETIME = timedelta(hours=24)


async def deliver(ctx: JobContext, job: Job, provider: VideoProvider, event: TaskEvent) -> None:
    """Download and send a finished task's video exactly once."""
    claimed = await ctx.store.transition(job.id, {S.SUBMITTED}, S.DOWNLOADING, progress=100)
    if claimed.job is None:
        return  # another callback or poll is already delivering it, or the job was cancelled
    job = claimed.job
    crash_point("claimed")
    await refresh_status(ctx, job, force=False)
    work = ctx.settings.work_dir / f"job-{job.id}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        video = await _fetch(ctx, job, event, work)
        if video is None:
            return
        crash_point("downloaded")
        info = await asyncio.to_thread(_prepare, video, work)
        sending = await ctx.store.transition(job.id, {S.DOWNLOADING}, S.SENDING)
        if sending.job is None:
            return
        job = sending.job
        await refresh_status(ctx, job, force=False)
        await _send(ctx, job, info)
    finally:
        _cleanup(work)
        discard = getattr(provider, "discard", None)
        if callable(discard) and job.task_id:
            discard(job.task_id)


async def _fetch(ctx: JobContext, job: Job, event: TaskEvent, work: Path) -> Path | None:
    """The result on disk, fully received and bounded (size, time, the job's deadline), or None
    when the job was failed (refunded) or went out as a link."""
    if event.video_path is not None:
        return event.video_path
    if not event.video_url:
        await fail_job(ctx, job, {S.DOWNLOADING}, "download", "finished task without a video URL")
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
        await fail_job(ctx, job, {S.DOWNLOADING}, "download", str(exc))
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
            await fail_job(ctx, job, {S.DOWNLOADING}, "download", f"unreadable video: {exc}")
            return None
        await _send_link(ctx, job, event.video_url, size)
        return None
    return dest


def _prepare(video: Path, work: Path) -> tuple[Path, VideoInfo | None, Path | None]:
    """Probe, add a silent track when there is no audio (no GIF look), make a thumbnail."""
    try:
        info = probe_video(video)
    except ProbeError:
        log.warning("could not probe %s; sending it as it is", video.name)
        return video, None, None
    if not info.has_audio:
        with_audio = work / "with-audio.mp4"
        try:
            if add_silent_audio(video, with_audio):
                video = with_audio
        except Exception:
            log.exception("adding a silent track failed; sending the original")
    thumb = make_thumbnail(video, work / "thumb.jpg")
    return video, info, thumb


async def _send(
    ctx: JobContext, job: Job, prepared: tuple[Path, VideoInfo | None, Path | None]
) -> None:
    path, info, thumb = prepared
    title = title_of(ctx, job)
    crash_point("before_send")
    await ctx.messenger.upload_action(target_of(job))
    started = time.monotonic()
    try:
        sent = await ctx.messenger.send_video(
            target_of(job),
            path,
            caption=views.caption(job, title),
            width=info.width if info else None,
            height=info.height if info else None,
            duration=round(info.duration_s) if info and info.duration_s else None,
            thumbnail=thumb,
            markup=keyboards.delivered_keyboard(job.language, job.id),
        )
    except BadRequest as exc:
        # Something about the extras (thumbnail, dimensions) may be what Telegram refused:
        # the video itself matters more, so try once more with the bare file.
        log.warning("job %s: sendVideo refused (%s); retrying without extras", job.id, exc)
        try:
            sent = await ctx.messenger.send_video(
                target_of(job), path, caption=views.caption(job, title), width=None,
                height=None, duration=None, thumbnail=None, markup=None,
            )  # fmt: skip
        except TelegramError as again:
            await fail_job(ctx, job, {S.SENDING}, "send", str(again))
            return
    except Forbidden as exc:
        await fail_job(ctx, job, {S.SENDING}, "send", exc.message)
        return
    except TelegramError as exc:
        await fail_job(ctx, job, {S.SENDING}, "send", f"{type(exc).__name__}: {exc}")
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
    await finish(ctx, done.job, refunded=0, notify=False)


async def _send_link(ctx: JobContext, job: Job, url: str, size: int) -> None:
    """Too big to upload: the user gets the provider's link and when it stops working."""
    sending = await ctx.store.transition(job.id, {S.DOWNLOADING}, S.SENDING)
    if sending.job is None:
        return
    expires_at = datetime.fromtimestamp(ctx.clock(), UTC) + RESULT_URL_LIFETIME
    expires = expires_at.strftime("%Y-%m-%d %H:%M UTC")
    text = t(
        job.language, "too_big_link", size_mb=str(size // (1024 * 1024)), url=url, expires=expires
    )
    message_id = await ctx.messenger.send_text(
        Target(job.chat_id, job.thread_id, job.photo_message_id), text
    )
    done = await ctx.store.transition(
        job.id, {S.SENDING}, S.DELIVERED, credit=Credit.SETTLE, video_message_id=message_id
    )
    if done.job is not None:
        await finish(ctx, done.job, refunded=0, notify=False)


def _cleanup(work: Path) -> None:
    for child in work.glob("*"):
        child.unlink(missing_ok=True)
    try:
        work.rmdir()
    except OSError:
        pass
