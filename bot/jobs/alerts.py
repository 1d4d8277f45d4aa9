"""Operator alerts: a provider's auth or balance problem, or a run of failed jobs, reaches the
admins once per incident (not once per job). `OperatorAlerts` owns that memory."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection

from bot.models import Job, JobStatus
from bot.telegram.messenger import Target, TelegramMessenger
from bot.texts import t

log = logging.getLogger(__name__)

FAILURE_WINDOW = 10  # look at the last N finished jobs
FAILURE_RATE_ALERT = 0.5  # alert when at least this share of them failed on our side


class OperatorAlerts:
    """When each (provider, kind) was last alerted, and how the recent jobs ended."""

    def __init__(
        self,
        messenger: Callable[[], TelegramMessenger],
        admin_ids: Collection[int],
        clock: Callable[[], float],
        every_s: float,
        claim: Callable[[str, float, float], Awaitable[bool]] | None = None,
    ) -> None:
        # Getters, not values: the job context's messenger and clock are read at each alert.
        self._messenger = messenger
        self._admin_ids = sorted(admin_ids)
        self._clock = clock
        self._every_s = every_s
        # Replicas (a shared database): the memory lives there, one alert in all replicas.
        self._claim = claim
        self._last: dict[tuple[str, str], float] = {}
        self._outcomes: list[bool] = []  # True = failed on our side

    async def alert(self, provider: str, kind: str, detail: str) -> None:
        """Send one alert per (provider, kind) per `every_s` to each admin."""
        now = self._clock()
        key = (provider, kind)
        if self._claim is not None:
            if not await self._claim(f"{provider}:{kind}", now, self._every_s):
                return
        else:
            last = self._last.get(key)
            if last is not None and now - last < self._every_s:
                return
            self._last[key] = now
        log.error("operator alert: provider=%s kind=%s detail=%s", provider, kind, detail[:200])
        for admin in self._admin_ids:
            await self._messenger().send_text(
                Target(admin),
                t("en", "operator_alert", provider=provider, kind=kind, detail=detail[:300]),
            )

    async def record_outcome(self, job: Job) -> None:
        """Remember how a job ended; alert the admins when too many recent jobs failed."""
        if job.status is JobStatus.CANCELLED:
            return
        users_part = job.failure is not None and job.failure.is_users_part
        failed = job.status in (JobStatus.FAILED, JobStatus.EXPIRED) and not users_part
        outcomes = self._outcomes
        outcomes.append(failed)
        del outcomes[:-FAILURE_WINDOW]
        bad = sum(outcomes)
        if len(outcomes) == FAILURE_WINDOW and bad >= FAILURE_RATE_ALERT * FAILURE_WINDOW:
            detail = f"{bad} of the last {FAILURE_WINDOW} jobs failed (last: {job.error_kind})"
            await self.alert(job.provider or "all", "failure rate", detail)
