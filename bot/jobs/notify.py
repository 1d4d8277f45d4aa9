"""Telling the user where a job stands: status edits and failure messages with their refund."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.faults import crash_point
from bot.jobs.context import JobContext
from bot.models import FailureReason, Job, JobStatus
from bot.storage.jobs import Credit
from bot.telegram import views
from bot.telegram.messenger import Target
from bot.texts import t

log = logging.getLogger(__name__)


def title_of(ctx: JobContext, job: Job) -> str:
    spec = ctx.registry.models().get(job.model)
    return spec.title if spec else job.model


def target_of(job: Job) -> Target:
    return Target(job.chat_id, job.thread_id, job.photo_message_id)


def in_group(job: Job) -> bool:
    return job.chat_id < 0  # group and supergroup ids are negative, private chats positive


def owner_name(ctx: JobContext, job: Job) -> str:
    """Whose job this is, as the group knows them (after a restart: "someone")."""
    return ctx.display_names.get(job.user_id) or t(job.language, "someone")


async def delete_message(ctx: JobContext, chat_id: int, message_id: int) -> bool:
    """Remove a helper message (through the Telegram seam; a failure is only logged)."""
    return await ctx.messenger.delete(chat_id, message_id)


async def remove_question(ctx: JobContext, job: Job) -> None:
    """In groups, the prompt question goes once it is answered or its draft is over."""
    if in_group(job) and job.ask_message_id is not None:
        await delete_message(ctx, job.chat_id, job.ask_message_id)


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
        owner = owner_name(ctx, job) if in_group(job) else None
        text = views.status_text(
            job, title_of(ctx, job), refunded=refunded, now=ctx.clock(), owner=owner,
            in_process=ctx.registry.in_process(job.provider),
        )  # fmt: skip
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
    reason: FailureReason,
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
        error_kind=reason.value,
        error_message=detail[:500],
        note=reason.value,
    )
    if done.job is None:
        return False
    crash_point("failed")
    ctx.metrics.credits("refunded", done.refunded)
    log.warning(
        "job %s %s: user=%s provider=%s task=%s kind=%s detail=%s refunded=%s",
        job.id, to.value, job.user_id, job.provider, job.task_id, reason.value, detail[:200],
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
    """After a terminal state: end the status message, tell the user once, free the photo.

    One message per moment: a failure is explained once, in a new message (an edit does not
    notify a user who looked away) with the buttons that fit its cause, and the status message
    above it becomes a short pointer. In groups finished status messages and questions are
    removed instead (the video, or the failure message, says it all).
    """
    ctx.media.release_job(job.id)
    if count:  # drafts cancelled before Generate are not jobs
        ctx.metrics.job_finished(job.model, job.provider, job.status.value)
        await ctx.alerts.record_outcome(job)
    text = views.status_text(
        job, title_of(ctx, job), refunded=refunded, now=ctx.clock(),
        in_process=ctx.registry.in_process(job.provider),
    )  # fmt: skip
    markup = views.status_markup(job)
    if job.status_message_id is not None and not edit:
        ctx.messenger.forget(job.chat_id, job.status_message_id)  # and any edit still waiting
        ctx.status_locks.pop(job.id, None)
    elif job.status_message_id is not None:
        async with ctx.status_lock(job.id):  # after any progress edit still in flight
            if in_group(job) and (notify or job.status in _GONE_IN_GROUPS):
                await delete_message(ctx, job.chat_id, job.status_message_id)
            else:
                final = views.failure_pointer(job) if notify else text
                await ctx.messenger.edit(job.chat_id, job.status_message_id, final, markup=None)
        ctx.messenger.forget(job.chat_id, job.status_message_id)
        ctx.status_locks.pop(job.id, None)
    await remove_question(ctx, job)
    if notify:
        await ctx.messenger.send_text(target_of(job), text, markup=markup)
    await ctx.store.set_fields(job.id, {job.status}, told_at=ctx.clock())
    if job.status is JobStatus.DELIVERED:
        for hook in ctx.on_delivered:  # issue 15: the referral bonus
            await hook(job.user_id)


# Group messages that only said where a job stood: gone once it is over.
_GONE_IN_GROUPS = frozenset({JobStatus.DELIVERED, JobStatus.CANCELLED})
