"""Telling the user where a job stands: the status message, its paced edits, the failure
message with its refund, and the end of a job. `StatusBoard` owns the per-job edit locks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from bot.faults import crash_point
from bot.models import FailureReason, Job, JobStatus
from bot.storage.jobs import Credit
from bot.telegram import views
from bot.telegram.messenger import Target
from bot.texts import t

if TYPE_CHECKING:
    from bot.jobs.context import JobContext

log = logging.getLogger(__name__)

# Group messages that only said where a job stood: gone once it is over.
_GONE_IN_GROUPS = frozenset({JobStatus.DELIVERED, JobStatus.CANCELLED})


def target_of(job: Job) -> Target:
    return Target(job.chat_id, job.thread_id, job.photo_message_id)


def in_group(job: Job) -> bool:
    return job.chat_id < 0  # group and supergroup ids are negative, private chats positive


class StatusBoard:
    """Each job's status message, from the first "Generating" to the end of the job.

    Edits of one job's message never overtake each other (a lock per job, held while the job
    is read and its message edited); the messenger paces the edits themselves.
    """

    def __init__(self, deps: JobContext) -> None:
        # The context's dependencies are read at each use (a test may travel in time).
        self._deps = deps
        self._locks: dict[int, asyncio.Lock] = {}
        self._on_delivered: list[Callable[[int], Awaitable[None]]] = []

    def lock(self, job_id: int) -> asyncio.Lock:
        """Held while a job's status message is edited: edits never overtake each other."""
        return self._locks.setdefault(job_id, asyncio.Lock())

    def on_delivered(self, hook: Callable[[int], Awaitable[None]]) -> None:
        """Call `hook(user_id)` after each delivered video (issue 15: the referral bonus)."""
        self._on_delivered.append(hook)

    def title_of(self, job: Job) -> str:
        spec = self._deps.registry.models().get(job.model)
        return spec.title if spec else job.model

    def owner_name(self, job: Job) -> str:
        """Whose job this is, as the group knows them ("someone" for jobs from before names
        were stored)."""
        return job.requester_name or t(job.language, "someone")

    async def remove_question(self, job: Job) -> None:
        """In groups, the prompt question goes once it is answered or its draft is over."""
        if in_group(job) and job.ask_message_id is not None:
            await self._deps.messenger.delete(job.chat_id, job.ask_message_id)

    async def refresh(self, job: Job, *, force: bool, refunded: int = 0) -> None:
        """Edit the job's status message to match its current state (throttled unless forced).

        Renders the job as the database has it now, under the job's lock, and never once it
        is over: a progress edit computed before a cancel must not land after "Cancelled".
        """
        deps = self._deps
        async with self.lock(job.id):
            current = await deps.store.get(job.id)
            if current is None or current.status.is_terminal:
                return  # `finish` owns the status message from now on
            job = current
            owner = self.owner_name(job) if in_group(job) else None
            text = views.status_text(
                job, self.title_of(job), refunded=refunded, now=deps.clock(), owner=owner,
                in_process=deps.registry.in_process(job.provider),
            )  # fmt: skip
            markup = views.status_markup(job)
            if job.status_message_id is None:
                message_id = await deps.messenger.send_text(target_of(job), text, markup=markup)
                if message_id is not None:
                    # Not only while the status stays as it was: a concurrent step must not
                    # lose it.
                    await deps.store.set_status_message(job.id, message_id)
                return
            await deps.messenger.edit(
                job.chat_id, job.status_message_id, text, markup=markup, force=force
            )

    async def fail(
        self,
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
        deps = self._deps
        done = await deps.store.transition(
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
        deps.metrics.credits("refunded", done.refunded)
        log.warning(
            "job %s %s: user=%s provider=%s task=%s kind=%s detail=%s refunded=%s",
            job.id, to.value, job.user_id, job.provider, job.task_id, reason.value, detail[:200],
            done.refunded,
        )  # fmt: skip
        await self.finish(done.job, refunded=done.refunded, notify=reach_user, edit=reach_user)
        return True

    async def finish(
        self,
        job: Job,
        *,
        refunded: int,
        notify: bool,
        count: bool = True,
        edit: bool = True,
    ) -> None:
        """After a terminal state: end the status message, tell the user once, free the photo.

        One message per moment: a failure is explained once, in a new message (an edit does
        not notify a user who looked away) with the buttons that fit its cause, and the status
        message above it becomes a short pointer. In groups finished status messages and
        questions are removed instead (the video, or the failure message, says it all).
        """
        deps = self._deps
        deps.media.release_job(job.id)
        if count:  # drafts cancelled before Generate are not jobs
            deps.metrics.job_finished(job.model, job.provider, job.status.value)
            await deps.alerts.record_outcome(job)
        text = views.status_text(
            job, self.title_of(job), refunded=refunded, now=deps.clock(),
            in_process=deps.registry.in_process(job.provider),
        )  # fmt: skip
        markup = views.status_markup(job)
        if job.status_message_id is not None and not edit:
            deps.messenger.forget(job.chat_id, job.status_message_id)  # and any edit waiting
            self._locks.pop(job.id, None)
        elif job.status_message_id is not None:
            async with self.lock(job.id):  # after any progress edit still in flight
                if in_group(job) and (notify or job.status in _GONE_IN_GROUPS):
                    await deps.messenger.delete(job.chat_id, job.status_message_id)
                else:
                    final = views.failure_pointer(job) if notify else text
                    await deps.messenger.edit(
                        job.chat_id, job.status_message_id, final, markup=None
                    )
            deps.messenger.forget(job.chat_id, job.status_message_id)
            self._locks.pop(job.id, None)
        await self.remove_question(job)
        if notify:
            await deps.messenger.send_text(target_of(job), text, markup=markup)
        await deps.store.set_fields(job.id, {job.status}, told_at=deps.clock())
        if job.status is JobStatus.DELIVERED:
            for hook in self._on_delivered:
                await hook(job.user_id)
