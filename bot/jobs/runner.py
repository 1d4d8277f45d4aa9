"""A paid job's life after Generate: submit (with failover), wait, download, deliver, settle.

Every step is a compare-and-set on the job's status, so a duplicate callback, a poll racing a
callback, a cancel, or a restart replaying a step can never deliver twice or refund twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

from bot.faults import crash_point
from bot.jobs.admission import Admission
from bot.jobs.context import JobContext
from bot.models import ErrorKind, Job, JobStatus, TaskEvent, TaskState
from bot.models import FailureReason as R
from bot.providers._parsing import refusal_is_about_prompt
from bot.providers.base import Submitted, VideoProvider, VideoRequest
from bot.providers.errors import ProviderError, ProviderTimeout, TaskNotFound
from bot.providers.language import prefer_for_prompt
from bot.telegram.delivery import deliver

log = logging.getLogger(__name__)
MAX_ETA_S = 3600  # no image-to-video task takes longer; the deadline is 3 × this at most

S = JobStatus
WAITING = frozenset({S.SUBMITTED})
NOT_FOUND_LIMIT = 3
MAX_SEED = 2147483647  # HappyHorse's documented seed range is 1..2147483647
PROMPT_REFUSED = "prompt"  # error kind: the provider refused the prompt itself
# For a provider that calls back, polling is only the fallback for a lost callback: it backs off
# faster and further (2 x POLL_MAX_S: one query a minute per job by default).
CALLBACK_FALLBACK_FACTOR = 2.0


class JobRunner:
    """Drives reserved jobs to a terminal state."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.admission = Admission(ctx)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}  # job -> (lock, holders+waiters)
        self._early_wakeups: set[int] = set()

    @contextlib.asynccontextmanager
    async def _lock(self, job_id: int) -> AsyncIterator[None]:
        """One check of a job at a time; the lock is dropped when nobody holds or awaits it, so
        thousands of waiting jobs keep no lock each."""
        lock, users = self._locks.get(job_id, (asyncio.Lock(), 0))
        self._locks[job_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[job_id]
            if users <= 1:
                del self._locks[job_id]
            else:
                self._locks[job_id] = (lock, users - 1)

    # ---- submit -------------------------------------------------------------------------
    async def submit(self, job_id: int) -> None:
        """Submit a reserved job to the first provider that takes it (or queue it for one)."""
        ctx = self.ctx
        while True:
            job = await ctx.store.get(job_id)
            if job is None or job.status is not S.RESERVED:
                return
            candidates = prefer_for_prompt(
                [
                    p for p in ctx.registry.candidates(job.model, job.options)
                    if p.name not in job.tried_providers
                ],
                job.prompt,
            )  # fmt: skip
            if not candidates:
                await ctx.board.fail(job, {S.RESERVED}, R.UNAVAILABLE, "no provider left to try")
                return
            queued: Job | None = None
            claimed: Job | None = None
            async with self.admission.lock:
                provider = await self.admission.pick(job, candidates)
                if provider is None:
                    queued = await self.admission.enqueue(job)
                else:
                    claimed = await self._claim(job, provider)
            if provider is None:
                if queued is not None:  # told outside the lock: Telegram may be slow
                    await self.admission.show_position(queued, force=job.queued_at is None)
                return
            if claimed is None:
                return  # cancelled meanwhile
            job = claimed
            if not await self._send(job, provider, more=len(candidates) > 1):
                return

    async def _claim(self, job: Job, provider: VideoProvider) -> Job | None:
        """RESERVED -> SUBMITTING for `provider`; the create counts against its hourly limit.

        Leaving the queue gives the job a fresh deadline: the wait was ours, not the provider's.
        """
        ctx = self.ctx
        fields: dict[str, Any] = {}
        if job.queued_at is not None:
            fields = {
                "queued_at": None,
                "deadline_at": ctx.clock() + ctx.settings.deadline_floor_s,
            }
        if job.seed is None and provider.models[job.model].seeded:
            fields["seed"] = secrets.randbelow(MAX_SEED) + 1
        claimed = await ctx.store.transition(
            job.id, {S.RESERVED}, S.SUBMITTING,
            provider=provider.name, tried_providers=(*job.tried_providers, provider.name),
            **fields,
        )  # fmt: skip
        if claimed.job is not None and provider.needs_public_image:
            await self.admission.record_create(provider.name, job.id)
        return claimed.job

    async def _send(self, job: Job, provider: VideoProvider, *, more: bool) -> bool:
        """Send the create; True when the job went back to RESERVED for the next provider."""
        ctx = self.ctx
        crash_point("before_create")
        try:
            async with ctx.metrics.timed(provider.name, "submit"):
                submitted = await provider.submit(self._request(job, provider))
        except ProviderError as exc:
            log.warning(
                "job %s: submission refused: user=%s provider=%s task=- error=%s",
                job.id, job.user_id, provider.name, exc,
            )  # fmt: skip
            await self._operator_alert(provider.name, exc)
            if exc.next_provider_may_try and more:
                back = await ctx.store.transition(
                    job.id, {S.SUBMITTING}, S.RESERVED, note=f"{provider.name}: {exc.kind}"
                )
                return back.job is not None
            await self._submit_failed(job, exc)
            return False
        except Exception:
            log.exception("job %s: unexpected error submitting to %s", job.id, provider.name)
            await ctx.board.fail(job, {S.SUBMITTING}, R.UPSTREAM, "internal error on submit")
            return False
        crash_point("after_create")
        await self._submitted(job, provider, submitted)
        return False

    def _request(self, job: Job, provider: VideoProvider) -> VideoRequest:
        ctx = self.ctx
        path = ctx.media.path_for_job(job.id)
        token = ctx.media.token_for_job(job.id)
        if path is None or token is None:
            raise ProviderError("the hosted photo is gone", provider=provider.name)
        base = ctx.settings.public_base_url
        image_url = f"{base}/media/{token}" if base and provider.needs_public_image else None
        callback = (
            f"{base}/callbacks/{provider.name}/{job.id}-{job.callback_secret}"
            if base and provider.uses_callbacks
            else None
        )
        return VideoRequest(
            job.prompt, job.video_options, path, image_url, callback,
            image_size=(job.photo_width, job.photo_height) if job.photo_width else None,
            seed=job.seed,
        )  # fmt: skip

    async def _submitted(self, job: Job, provider: VideoProvider, submitted: Submitted) -> None:
        ctx = self.ctx
        task_id, eta_s = submitted.task_id, submitted.eta_s
        now = ctx.clock()
        first_poll = ctx.settings.callback_grace_s if provider.uses_callbacks else 0.0
        # A provider's estimate is outside input: 1e9 s once put a deadline 95 years out.
        eta_s = min(max(eta_s, 0), MAX_ETA_S) if eta_s is not None else None
        deadline = now + max(ctx.settings.deadline_floor_s, 3 * (eta_s or 0))
        done = await ctx.store.transition(
            job.id, {S.SUBMITTING}, S.SUBMITTED,
            task_id=task_id, eta_s=eta_s, submitted_at=now, deadline_at=deadline,
            next_poll_at=now + max(first_poll, ctx.settings.poll_initial_s),
            poll_interval=ctx.settings.poll_initial_s, provider_cost=submitted.cost,
        )  # fmt: skip
        log.info(
            "job %s submitted: user=%s provider=%s task=%s eta=%s",
            job.id, job.user_id, provider.name, task_id, eta_s,
        )  # fmt: skip
        if done.job is None:
            log.info(
                "job %s cancelled while submitting, task ignored: user=%s provider=%s task=%s",
                job.id, job.user_id, provider.name, task_id,
            )  # fmt: skip
            return
        crash_point("submitted")
        await ctx.board.refresh(done.job, force=False)
        if job.id in self._early_wakeups:
            self._early_wakeups.discard(job.id)
            await self.check(job.id)

    async def _submit_failed(self, job: Job, exc: ProviderError) -> None:
        if isinstance(exc, ProviderTimeout) and exc.outcome_unknown:
            reason = R.UNKNOWN_OUTCOME
        elif exc.kind.is_operators_part or exc.kind is ErrorKind.RATE_LIMITED:
            reason = R.UNAVAILABLE
        elif refusal_is_about_prompt(exc):
            reason = R.PROMPT
        elif exc.kind in (ErrorKind.NOT_FOUND, ErrorKind.UNKNOWN):
            reason = R.UPSTREAM  # never the user's fault by default
        else:
            reason = R.of_task(exc.kind)
        await self.ctx.board.fail(job, {S.SUBMITTING}, reason, str(exc))

    async def _operator_alert(self, provider: str, exc: ProviderError) -> None:
        if exc.kind.is_operators_part:
            await self.ctx.alerts.alert(provider, exc.kind.value, exc.message)

    # ---- wait ---------------------------------------------------------------------------
    async def wake(self, job_id: int) -> None:
        """A callback (or in-process completion) says the task moved: re-query it now."""
        job = await self.ctx.store.get(job_id)
        if job is None:
            return
        if job.status in (S.RESERVED, S.SUBMITTING):
            self._early_wakeups.add(job_id)  # the create response has not been recorded yet
            return
        await self.check(job_id)

    async def wake_task(self, provider: str, task_id: str) -> None:
        """An in-process provider finished a task: same path as a callback."""
        job = await self.ctx.store.by_task(provider, task_id)
        if job is not None:
            await self.wake(job.id)

    async def check(self, job_id: int) -> None:
        """Ask the provider where the task stands and act on the answer (one at a time)."""
        async with self._lock(job_id):
            job = await self.ctx.store.get(job_id)
            if job is None or job.status is not S.SUBMITTED or not job.task_id:
                return
            provider = self.ctx.registry.get(job.provider or "")
            if provider is None:
                await self.ctx.board.fail(job, WAITING, R.UNAVAILABLE, "provider not configured")
                return
            crash_point("before_query")
            try:
                async with self.ctx.metrics.timed(provider.name, "query"):
                    event = await provider.query(job.task_id)
            except TaskNotFound:
                await self._not_found(job, provider)
                return
            except ProviderError as exc:
                log.warning(
                    "job %s: query failed, polling again later: user=%s provider=%s task=%s "
                    "error=%s", job.id, job.user_id, provider.name, job.task_id, exc,
                )  # fmt: skip
                await self._operator_alert(provider.name, exc)
                await self._schedule_poll(job)
                return
            crash_point("after_query")
            await self._on_event(job, provider, event)

    async def _on_event(self, job: Job, provider: VideoProvider, event: TaskEvent) -> None:
        ctx = self.ctx
        log.info(
            "job %s event: user=%s provider=%s task=%s state=%s progress=%s",
            job.id, job.user_id, provider.name, job.task_id, event.state, event.progress,
        )  # fmt: skip
        if event.state is TaskState.SUCCEEDED:
            await self._record_cost(job, provider, event)
            await deliver(ctx, job, provider, event)
        elif event.state is TaskState.FAILED:
            detail = f"{event.error_code or ''} {event.error_message or ''}".strip()
            reason = R.of_task(event.error_kind)
            await ctx.board.fail(job, WAITING, reason, detail or "task failed")
        else:
            progress = event.progress if event.progress is not None else job.progress
            await ctx.store.set_fields(job.id, WAITING, progress=progress)
            await self._schedule_poll(job)
            fresh = await ctx.store.get(job.id)
            if fresh is not None and fresh.status is S.SUBMITTED:
                await ctx.board.refresh(fresh, force=False)

    async def _record_cost(self, job: Job, provider: VideoProvider, event: TaskEvent) -> None:
        """The provider's own figure for this task (a final one wins over the reserved one)."""
        cost = event.cost if event.cost is not None else job.provider_cost
        if cost is None:
            return
        if await self.ctx.store.set_fields(job.id, WAITING, provider_cost=cost):
            self.ctx.metrics.provider_cost(provider.name, cost)

    async def _schedule_poll(self, job: Job) -> None:
        s = self.ctx.settings
        provider = self.ctx.registry.get(job.provider or "")
        fallback = provider is not None and provider.uses_callbacks
        growth, cap = (
            (2.0, s.poll_max_s * CALLBACK_FALLBACK_FACTOR) if fallback else (1.5, s.poll_max_s)
        )
        interval = min((job.poll_interval or s.poll_initial_s) * growth, cap)
        await self.ctx.store.set_fields(
            job.id, WAITING, next_poll_at=self.ctx.clock() + interval, poll_interval=interval
        )

    async def _not_found(self, job: Job, provider: VideoProvider) -> None:
        ctx = self.ctx
        if provider.in_process:
            # An in-process provider forgets its tasks on restart: render again, at no cost.
            back = await ctx.store.transition(
                job.id, WAITING, S.RESERVED, tried_providers=(), note="local task lost"
            )
            if back.won:
                ctx.tasks.spawn(self.submit(job.id), f"resubmit-{job.id}")
            return
        count = job.not_found_count + 1
        if count >= NOT_FOUND_LIMIT:
            await ctx.board.fail(job, WAITING, R.UPSTREAM, "provider no longer knows the task")
            return
        await ctx.store.set_fields(job.id, WAITING, not_found_count=count)
        await self._schedule_poll(job)
