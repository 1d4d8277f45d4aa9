"""Telling the user where a job stands: status edits and failure messages with their refund."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.faults import crash_point
from bot.jobs.alerts import record_outcome
from bot.jobs.context import JobContext
from bot.models import Job, JobStatus
from bot.storage.jobs import Credit
from bot.telegram import views
from bot.telegram.messenger import Target

log = logging.getLogger(__name__)


def title_of(ctx: JobContext, job: Job) -> str:
    spec = ctx.registry.models().get(job.model)
    return spec.title if spec else job.model


def target_of(job: Job) -> Target:
    return Target(job.chat_id, job.thread_id, job.photo_message_id)


async def refresh_status(ctx: JobContext, job: Job, *, force: bool, refunded: int = 0) -> None:
    """Edit the job's status message to match its current state (throttled unless forced).

    Renders the job as the database has it now, under the job's status lock, and never once it
    is over: a progress edit computed before a cancel must not land after "Cancelled".
    """
    async with ctx.status_lock(job.id):
        current = await ctx.store.get(job.id)
        if current is None or current.status.is_terminal:
            return  # `finish` owns the status message from now on
        job = current
        text = views.status_text(job, title_of(ctx, job), refunded=refunded, now=ctx.clock())
        markup = views.status_markup(job)
        if job.status_message_id is None:
            message_id = await ctx.messenger.send_text(target_of(job), text, markup=markup)
            if message_id is not None:
                # Not only while the status stays as it was: a concurrent step must not lose it.
                await ctx.store.set_status_message(job.id, message_id)
            return
        await ctx.messenger.edit(
            job.chat_id, job.status_message_id, text, markup=markup, force=force
        )


async def fail_job(
    ctx: JobContext,
    job: Job,
    allowed_from: Iterable[JobStatus],
    kind: str,
    detail: str,
    *,
    to: JobStatus = JobStatus.FAILED,
    reach_user: bool = True,
) -> bool:
    """Fail (or expire) a job, refund it in the same transaction, and tell the user once
    (`reach_user=False`: the chat refuses the bot, so nothing is sent there)."""
    done = await ctx.store.transition(
        job.id,
        allowed_from,
        to,
        credit=Credit.REFUND,
        error_kind=kind,
        error_message=detail[:500],
        note=kind,
    )
    if done.job is None:
        return False
    crash_point("failed")
    ctx.metrics.credits("refunded", done.refunded)
    log.warning(
        "job %s %s: user=%s provider=%s task=%s kind=%s detail=%s refunded=%s",
        job.id, to.value, job.user_id, job.provider, job.task_id, kind, detail[:200],
        done.refunded,
    )  # fmt: skip
    await finish(ctx, done.job, refunded=done.refunded, notify=reach_user, edit=reach_user)
    return True


async def finish(
    ctx: JobContext,
    job: Job,
    *,
    refunded: int,
    notify: bool,
    count: bool = True,
    edit: bool = True,
) -> None:
    """After a terminal state: update the status message, tell the user, free the photo."""
    ctx.media.release_job(job.id)
    if count:  # drafts cancelled before Generate are not jobs
        ctx.metrics.job_finished(job.model, job.provider, job.status.value)
        await record_outcome(ctx, job)
    text = views.status_text(job, title_of(ctx, job), refunded=refunded, now=ctx.clock())
    markup = views.status_markup(job)
    if job.status_message_id is not None and not edit:
        ctx.messenger.forget(job.chat_id, job.status_message_id)  # and any edit still waiting
        ctx.status_locks.pop(job.id, None)
    elif job.status_message_id is not None:
        async with ctx.status_lock(job.id):  # after any progress edit still in flight
            await ctx.messenger.edit(job.chat_id, job.status_message_id, text, markup=None)
        ctx.messenger.forget(job.chat_id, job.status_message_id)
        ctx.status_locks.pop(job.id, None)
    if notify:
        # A new message, not only an edit: an edit does not notify a user who looked away.
        await ctx.messenger.send_text(target_of(job), text, markup=markup)
    await ctx.store.set_fields(job.id, {job.status}, told_at=ctx.clock())
