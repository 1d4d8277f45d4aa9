"""Background loops: poll quiet tasks, expire jobs past their deadline, purge old photos,
and the start-up recovery that finishes whatever a crash left unfinished."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from bot.jobs.context import JobContext
from bot.jobs.notify import fail_job, finish
from bot.jobs.runner import JobRunner
from bot.models import FailureReason, JobStatus

log = logging.getLogger(__name__)
S = JobStatus
TICK_S = 1.0  # at most; shorter when polls are configured to be more frequent
WATCHDOG_EVERY_S = 10.0
PURGE_EVERY_S = 600.0


class Poller:
    """Runs `*_once` steps on a timer; tests call the steps directly."""

    def __init__(self, ctx: JobContext, runner: JobRunner) -> None:
        self.ctx = ctx
        self.runner = runner
        self._in_flight: set[int] = set()

    async def poll_once(self) -> int:
        """Query every submitted job whose next poll is due; returns how many were started."""
        due = await self.ctx.store.due_for_poll(self.ctx.clock())
        started = 0
        for job in due:
            if job.id in self._in_flight:
                continue
            self._in_flight.add(job.id)
            self.ctx.spawn(self._check(job.id), f"poll-{job.id}")
            started += 1
        return started

    async def _check(self, job_id: int) -> None:
        try:
            await self.runner.check(job_id)
        finally:
            self._in_flight.discard(job_id)

    async def watchdog_once(self) -> int:
        """Fail and refund every active job past its deadline, telling the user."""
        expired = 0
        for job in await self.ctx.store.past_deadline(self.ctx.clock()):
            # Not SENDING: the upload has its own timeout, and expiring it mid-upload would
            # refund a video the user receives.
            active = {S.RESERVED, S.SUBMITTING, S.SUBMITTED, S.DOWNLOADING}
            if await fail_job(
                self.ctx, job, active, FailureReason.TIMEOUT, "job deadline passed", to=S.EXPIRED
            ):
                expired += 1
        return expired

    async def recover(self) -> list[int]:
        """After a restart, before anything is served: put every job a crash left in the middle
        back on a safe path, and tell users the outcomes they never heard of.

        Runs before the web server and the updates start, so no callback, poll or button press
        can race it (a callback delivering a job that this loop then resets would send its
        video twice). Returns the jobs to submit once the web server is up: `resume()`.
        """
        ctx = self.ctx
        resubmit: list[int] = []
        for job in await ctx.store.untold():
            # The outcome was recorded, then the process died before the user heard of it.
            refunded = await ctx.ledger.refunded(job.id)
            notify = job.status in (S.FAILED, S.EXPIRED)
            await finish(ctx, job, refunded=refunded, notify=notify, count=False)
        resubmit += [job.id for job in await ctx.store.in_statuses([S.RESERVED])]
        for job in await ctx.store.in_statuses([S.SUBMITTING]):
            provider = ctx.registry.get(job.provider or "")
            if provider is not None and provider.in_process:
                # The local renderer costs nothing: just render again.
                back = await ctx.store.transition(
                    job.id, {S.SUBMITTING}, S.RESERVED, tried_providers=(), note="restart"
                )
                if back.won:
                    resubmit.append(job.id)
                continue
            # The create request may or may not have made a task; we recorded no id, so the
            # only safe answer is to stop, refund and say so (never submit a second time).
            await fail_job(
                ctx, job, {S.SUBMITTING}, FailureReason.UNKNOWN_OUTCOME, "crashed while submitting"
            )
        for job in await ctx.store.in_statuses([S.DOWNLOADING, S.SENDING]):
            # Fetch a fresh result URL and deliver again; a crash right after Telegram accepted
            # the video but before we recorded it may re-send it once (never lose it).
            await ctx.store.transition(
                job.id, {S.DOWNLOADING, S.SENDING}, S.SUBMITTED, note="restart"
            )
        for job in await ctx.store.in_statuses([S.SUBMITTED]):
            await ctx.store.set_fields(job.id, {S.SUBMITTED}, next_poll_at=ctx.clock())
        log.info("recovery done")
        return resubmit

    def resume(self, job_ids: Iterable[int]) -> None:
        """Submit what `recover()` put back (the hosted photos must be reachable by now)."""
        for job_id in job_ids:
            self.ctx.spawn(self.runner.submit(job_id), f"resubmit-{job_id}")

    async def run(self) -> None:
        """The loop: poll due jobs every tick, the watchdog and the media purge less often."""
        settings = self.ctx.settings
        tick = max(0.02, min(TICK_S, settings.poll_initial_s / 2))
        watchdog_every = min(WATCHDOG_EVERY_S, max(0.05, settings.deadline_floor_s / 4))
        last_watchdog = last_purge = 0.0
        while True:
            try:
                await self.poll_once()
                await self.runner.admission.tick(self.runner.submit)  # issue 11: queue moves
                now = self.ctx.clock()
                if now - last_watchdog >= watchdog_every:
                    last_watchdog = now
                    await self.watchdog_once()
                if now - last_purge >= PURGE_EVERY_S:
                    last_purge = now
                    self.ctx.media.purge_expired()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("poller step failed; continuing")
            await asyncio.sleep(tick)
