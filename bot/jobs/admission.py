"""Admission control: a provider's documented limits are a queue, not a string of 429s.

A provider may have a limit on concurrent tasks and on task creations per hour (PROVIDER_LIMITS,
the documented values by default). Before a job is sent, `pick` chooses the first candidate
provider with room; when none has room the job stays `reserved`, marked queued (`queued_at`), and
waits its turn: first come, first served. Everything is counted from the database (tasks
`submitting`/`submitted` at the provider, rows of `provider_creates` in the last hour), so the
queue and the counts survive a restart. While a job is queued it has no deadline: our own queue
never runs its time out; it gets a fresh one when it leaves the queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from bot.jobs.limits import HOUR_S
from bot.models import Job, JobStatus
from bot.providers.base import VideoProvider
from bot.telegram import views
from bot.texts import describe_options, t

if TYPE_CHECKING:
    from bot.jobs.context import JobContext

log = logging.getLogger(__name__)
S = JobStatus
AT_PROVIDER = (S.SUBMITTING.value, S.SUBMITTED.value)  # tasks the provider counts as running
REFRESH_AT_MOST = 20  # queued status messages updated after each departure (the rest later)


class Admission:
    """Decides which provider may take a job now; keeps the waiting ones in order."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        # Held from "is there room" to "the claim is recorded": two jobs never take one slot.
        self.lock = asyncio.Lock()
        self._draining = False

    def limit(self, provider: str) -> tuple[int, int]:
        return self.ctx.settings.provider_limits.get(provider, (0, 0))

    def limited(self, provider: str) -> bool:
        return any(self.limit(provider))

    async def running(self, provider: str) -> int:
        row = await self.ctx.store.db.fetchone(
            "SELECT COUNT(*) FROM jobs WHERE provider = ? AND status IN (?, ?)",
            (provider, *AT_PROVIDER),
        )
        return int(row[0]) if row else 0

    async def created_last_hour(self, provider: str) -> int:
        row = await self.ctx.store.db.fetchone(
            "SELECT COUNT(*) FROM provider_creates WHERE provider = ? AND at > ?",
            (provider, self.ctx.clock() - HOUR_S),
        )
        return int(row[0]) if row else 0

    async def has_room(self, provider: str) -> bool:
        concurrent, per_hour = self.limit(provider)
        if concurrent and await self.running(provider) >= concurrent:
            return False
        return not (per_hour and await self.created_last_hour(provider) >= per_hour)

    async def pick(self, job: Job, candidates: Sequence[VideoProvider]) -> VideoProvider | None:
        """The first candidate with room; None: the job must wait. Call with `lock` held.

        A limited provider's slot goes to the oldest queued job first: a job does not overtake
        the ones already waiting (an unlimited provider serves anyone at once).
        """
        behind = await self.ahead_of(job) > 0
        for provider in candidates:
            if not self.limited(provider.name):
                return provider
            if not behind and await self.has_room(provider.name):
                return provider
        return None

    async def record_create(self, provider: str, job_id: int) -> None:
        """A create is about to be sent: it counts against the hourly limit from now on."""
        async with self.ctx.store.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO provider_creates (provider, job_id, at) VALUES (?, ?, ?)",
                (provider, job_id, self.ctx.clock()),
            )

    async def ahead_of(self, job: Job) -> int:
        """Queued jobs that came before this one (all of them when this one is not queued)."""
        if job.queued_at is None:
            row = await self.ctx.store.db.fetchone(
                "SELECT COUNT(*) FROM jobs WHERE status = ? AND queued_at IS NOT NULL",
                (S.RESERVED.value,),
            )
        else:
            row = await self.ctx.store.db.fetchone(
                "SELECT COUNT(*) FROM jobs WHERE status = ? AND queued_at IS NOT NULL "
                "AND id <> ? AND (queued_at < ? OR (queued_at = ? AND id < ?))",
                (S.RESERVED.value, job.id, job.queued_at, job.queued_at, job.id),
            )
        return int(row[0]) if row else 0

    async def queued_ids(self) -> list[int]:
        rows = await self.ctx.store.db.fetchall(
            "SELECT id FROM jobs WHERE status = ? AND queued_at IS NOT NULL "
            "ORDER BY queued_at, id",
            (S.RESERVED.value,),
        )
        return [int(r[0]) for r in rows]

    async def enqueue(self, job: Job) -> Job | None:
        """Keep the job waiting (its place is kept across restarts); the job as it is now, or
        None when it moved on meanwhile. Call `show_position` after releasing `lock`."""
        queued_at = job.queued_at if job.queued_at is not None else self.ctx.clock()
        if not await self.ctx.store.set_fields(
            job.id, {S.RESERVED}, queued_at=queued_at, deadline_at=None
        ):
            return None  # cancelled meanwhile
        if job.queued_at is None:
            log.info("job %s queued: user=%s model=%s", job.id, job.user_id, job.model)
        return await self.ctx.store.get(job.id)

    async def show_position(self, job: Job, *, force: bool) -> None:
        """Edit the status message: queued, and how many jobs are ahead. Rendered from the job
        as the database has it under the status lock: never over a newer state."""
        async with self.ctx.board.lock(job.id):
            current = await self.ctx.store.get(job.id)
            if (
                current is None
                or current.status is not S.RESERVED
                or current.queued_at is None
                or current.status_message_id is None
            ):
                return
            ahead = await self.ahead_of(current)
            spec = self.ctx.registry.models().get(current.model)
            lang = current.language
            text = t(
                lang,
                "status_queued_ahead",
                ahead=ahead,
                model=spec.title if spec else current.model,
                options=describe_options(lang, current.options),
                prompt=views.prompt_preview(lang, current.prompt),
            )
            await self.ctx.messenger.edit(
                current.chat_id, current.status_message_id, text,
                markup=views.status_markup(current), force=force,
            )  # fmt: skip

    async def tick(self, submit: Callable[[int], Awaitable[None]]) -> None:
        """From the poller's loop: let the queue move when a slot may have freed."""
        if self._draining:
            return
        row = await self.ctx.store.db.fetchone(
            "SELECT COUNT(*) FROM jobs WHERE status = ? AND queued_at IS NOT NULL",
            (S.RESERVED.value,),
        )
        if row and int(row[0]) and not self._draining:
            self._draining = True
            self.ctx.tasks.spawn(self._drain(submit), "admission-drain")

    async def _drain(self, submit: Callable[[int], Awaitable[None]]) -> None:
        """Submit queued jobs oldest first until one has to keep waiting."""
        moved = False
        try:
            for job_id in await self.queued_ids():
                await submit(job_id)
                job = await self.ctx.store.get(job_id)
                if job is not None and job.status is S.RESERVED and job.queued_at is not None:
                    break
                moved = True
            if moved:
                for job_id in (await self.queued_ids())[:REFRESH_AT_MOST]:
                    job = await self.ctx.store.get(job_id)
                    if job is not None:
                        await self.show_position(job, force=False)
        finally:
            self._draining = False
