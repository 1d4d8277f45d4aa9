"""Background loops: poll quiet tasks, expire jobs past their deadline, purge old photos and
kept videos, and the start-up recovery that finishes whatever a crash left unfinished.

One shared scheduler polls every waiting job: a waiting job holds no task and no timer, only its
`next_poll_at` row in the database. Each tick takes the jobs that are due, oldest first, and
starts at most `MAX_CONCURRENT_CHECKS` queries, and never more per provider than its request
rate allows (`QueryRates`): a job over the budget simply stays due and goes out on a later tick.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from bot.jobs.context import JobContext
from bot.jobs.runner import JobRunner
from bot.models import FailureReason, JobStatus
from bot.telegram.kept_videos import purge_kept

log = logging.getLogger(__name__)
S = JobStatus
TICK_S = 1.0  # at most; shorter when polls are configured to be more frequent
WATCHDOG_EVERY_S = 10.0
PURGE_EVERY_S = 600.0
MAX_CONCURRENT_CHECKS = 16  # provider queries in flight from the scheduler at once
# Requests per second we allow ourselves per provider. Only apikley documents one (its upstream
# accepts 20 requests per 10 s); for the others a conservative budget well under any public API.
DOCUMENTED_RATES = {"apikley": 2.0}
DEFAULT_RATE = 5.0


class QueryRates:
    """A token bucket per provider (burst of one second's worth): `take()` says whether one
    more query may go out now."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # provider -> (tokens, at)

    @staticmethod
    def rate_of(provider: str) -> float:
        return DOCUMENTED_RATES.get(provider, DEFAULT_RATE)

    def take(self, provider: str) -> bool:
        rate = self.rate_of(provider)
        now = self.clock()
        tokens, at = self._buckets.get(provider, (rate, now))
        tokens = min(rate, tokens + (now - at) * rate)
        if tokens < 1.0:
            self._buckets[provider] = (tokens, now)
            return False
        self._buckets[provider] = (tokens - 1.0, now)
        return True


class Poller:
    """Runs `*_once` steps on a timer; tests call the steps directly."""

    def __init__(self, ctx: JobContext, runner: JobRunner) -> None:
        self.ctx = ctx
        self.runner = runner
        self._in_flight: set[int] = set()
        self.rates = QueryRates()

    async def poll_once(self) -> int:
        """Query the submitted jobs whose next poll is due, oldest first, within the concurrency
        and per-provider rate budgets; returns how many were started. The rest stay due."""
        free = MAX_CONCURRENT_CHECKS - len(self._in_flight)
        if free <= 0:
            return 0
        due = await self.ctx.store.due_for_poll(self.ctx.clock())
        started = 0
        for job in due:
            if started >= free:
                break
            if job.id in self._in_flight or not self.rates.take(job.provider or ""):
                continue
            self._in_flight.add(job.id)
            self.ctx.tasks.spawn(self._check(job.id), f"poll-{job.id}")
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
            if await self.ctx.board.fail(
                job, active, FailureReason.TIMEOUT, "job deadline passed", to=S.EXPIRED
            ):
                expired += 1
        return expired

    async def recover(self, *, quiet: bool = False) -> list[int]:
        """After a restart, before anything is served: put every job a crash left in the middle
        back on a safe path, and tell users the outcomes they never heard of.

        Runs before the web server and the updates start, so no callback, poll or button press
        can race it (a callback delivering a job that this loop then resets would send its
        video twice). Returns the jobs to submit once the web server is up: `resume()`.
        On a shared database (replicas) it handles only orphans, jobs whose replica died or
        left, each claimed by one replica; `take_over()` runs it again while serving, which is
        safe because nobody else works on a claimed orphan.
        """
        ctx = self.ctx
        resubmit: list[int] = []
        for job in await ctx.store.claim_untold():
            # The outcome was recorded, then the process died before the user heard of it.
            refunded = await ctx.ledger.refunded(job.id)
            notify = job.status in (S.FAILED, S.EXPIRED)
            await ctx.board.finish(job, refunded=refunded, notify=notify, count=False)
        resubmit += [job.id for job in await ctx.store.claim_orphans([S.RESERVED])]
        for job in await ctx.store.claim_orphans([S.SUBMITTING]):
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
            await ctx.board.fail(
                job, {S.SUBMITTING}, FailureReason.UNKNOWN_OUTCOME, "crashed while submitting"
            )
        for job in await ctx.store.claim_orphans([S.DOWNLOADING, S.SENDING]):
            # Fetch a fresh result URL and deliver again; a crash right after Telegram accepted
            # the video but before we recorded it may re-send it once (never lose it).
            # Due now: its result is ready, only this process's death stopped the delivery.
            await ctx.store.transition(
                job.id, {S.DOWNLOADING, S.SENDING}, S.SUBMITTED, note="restart",
                next_poll_at=ctx.clock(),
            )  # fmt: skip
        # SUBMITTED jobs keep their next poll in the database: the scheduler takes every overdue
        # one, oldest first, within the providers' rates. Orphans of a dead replica are claimed in
        # one statement; rewriting each one's next_poll_at cost a transaction per job (minutes
        # for 10,000 waiting jobs).
        if ctx.store.db.shared:  # SQLite: one process, nothing to claim (and no full read)
            await ctx.store.claim_orphans([S.SUBMITTED])
        if not quiet:
            log.info("recovery done")
        return resubmit

    async def take_over(self) -> None:
        """Replicas: recover the jobs of a replica that died (its lease ran out) or left."""
        if self.ctx.store.db.shared:
            self.resume(await self.recover(quiet=True))

    def resume(self, job_ids: Iterable[int]) -> None:
        """Submit what `recover()` put back (the hosted photos must be reachable by now)."""
        for job_id in job_ids:
            self.ctx.tasks.spawn(self.runner.submit(job_id), f"resubmit-{job_id}")

    async def run(self) -> None:
        """The loop: poll due jobs every tick, the watchdog and the media purge less often."""
        settings = self.ctx.settings
        tick = max(0.02, min(TICK_S, settings.poll_initial_s / 2))
        watchdog_every = min(WATCHDOG_EVERY_S, max(0.05, settings.deadline_floor_s / 4))
        # A dead replica's jobs wait at most about 1.5 leases before another takes them over.
        watchdog_every = min(watchdog_every, self.ctx.store.lease_s / 2)
        last_watchdog = last_purge = 0.0
        while True:
            try:
                await self.poll_once()
                await self.runner.admission.tick(self.runner.submit)  # issue 11: queue moves
                now = self.ctx.clock()
                if now - last_watchdog >= watchdog_every:
                    last_watchdog = now
                    await self.watchdog_once()
                    await self.take_over()
                if now - last_purge >= PURGE_EVERY_S:
                    last_purge = now
                    self.ctx.media.purge_expired()
                    # File times are wall-clock times, whatever clock the jobs run on.
                    purge_kept(self.ctx.settings.work_dir, time.time())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("poller step failed; continuing")
            await asyncio.sleep(tick)
