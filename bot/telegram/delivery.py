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
from bot.media.download import DownloadError, VideoTooLarge, download_video
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
    await refresh_status(ctx, job, force=False)
    work = ctx.settings.work_dir / f"job-{job.id}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        video = await _fetch(ctx, job, event, work)
        if video is None:
            return
        crash_point("downloaded")
        info = await asyncio.to_thread(_prepare, video, work)
        # Built before `sending`: a caption that could not be built (it once looped forever)
        # is an attempt interrupted before sending, which _attempted_too_often counts.
        caption = views.caption(job, title_of(ctx, job))
        sending = await ctx.store.transition(job.id, {S.DOWNLOADING}, S.SENDING)
        if sending.job is None:
            return
        job = sending.job
        await refresh_status(ctx, job, force=False)
        await _send(ctx, job, info, caption)
    finally:
        _cleanup(work)
        discard = getattr(provider, "discard", None)
        if callable(discard) and job.task_id:
            discard(job.task_id)


async def _fetch(ctx: JobContext, job: Job, event: TaskEvent, work: Path) -> Path | None:
    if event.video_path is not None:
        return event.video_path
    if not event.video_url:
        await fail_job(ctx, job, {S.DOWNLOADING}, "download", "finished task without a video URL")
        return None
    dest = work / "video.mp4"
    try:
        async with ctx.metrics.timed(job.provider or "unknown", "download"):
            size = await download_video(
                ctx.download_http or ctx.http,
                event.video_url,
                dest,
                max_bytes=ctx.settings.max_upload_bytes,
                allow_private=ctx.settings.allow_private_urls,
            )
    except VideoTooLarge as exc:
        await _send_link(ctx, job, event.video_url, exc.size)
        return None
    except DownloadError as exc:
        await fail_job(ctx, job, {S.DOWNLOADING}, "download", str(exc))
        return None
    log.info(
        "job %s downloaded %d bytes: user=%s provider=%s task=%s",
        job.id, size, job.user_id, job.provider, job.task_id,
    )  # fmt: skip
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
    await fail_job(ctx, job, {S.DOWNLOADING}, "send", detail)
    return True


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
    ctx: JobContext, job: Job, prepared: tuple[Path, VideoInfo | None, Path | None], caption: str
) -> None:
    path, info, thumb = prepared
    crash_point("before_send")
    await ctx.messenger.upload_action(target_of(job))
    started = time.monotonic()
    try:
        sent = await ctx.messenger.send_video(
            target_of(job),
            path,
            caption=caption,
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
                target_of(job), path, caption=caption, width=None,
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
