"""Operator alerts: a provider's auth or balance problem, or a run of failed jobs, reaches the
admins once per incident (not once per job)."""

from __future__ import annotations

import logging

from bot.jobs.context import JobContext
from bot.models import Job, JobStatus
from bot.telegram.messenger import Target
from bot.texts import t

log = logging.getLogger(__name__)


async def alert_operator(ctx: JobContext, provider: str, kind: str, detail: str) -> None:
    """Send one alert per (provider, kind) per `alert_every_s` to each admin."""
    now = ctx.clock()
    key = (provider, kind)
    last = ctx.last_alerts.get(key)
    if last is not None and now - last < ctx.settings.alert_every_s:
        return
    ctx.last_alerts[key] = now
    log.error("operator alert: provider=%s kind=%s detail=%s", provider, kind, detail[:200])
    for admin in sorted(ctx.settings.admin_ids):
        await ctx.messenger.send_text(
            Target(admin),
            t("en", "operator_alert", provider=provider, kind=kind, detail=detail[:300]),
        )


FAILURE_WINDOW = 10  # look at the last N finished jobs
FAILURE_RATE_ALERT = 0.5  # alert when at least this share of them failed on our side


async def record_outcome(ctx: JobContext, job: Job) -> None:
    """Remember how a job ended; alert the admins when too many recent jobs failed."""
    if job.status is JobStatus.CANCELLED:
        return
    users_part = job.failure is not None and job.failure.is_users_part
    failed = job.status in (JobStatus.FAILED, JobStatus.EXPIRED) and not users_part
    outcomes = ctx.recent_outcomes
    outcomes.append(failed)
    del outcomes[:-FAILURE_WINDOW]
    if len(outcomes) == FAILURE_WINDOW and sum(outcomes) >= FAILURE_RATE_ALERT * FAILURE_WINDOW:
        detail = (
            f"{sum(outcomes)} of the last {FAILURE_WINDOW} jobs failed (last: {job.error_kind})"
        )
        await alert_operator(ctx, job.provider or "all", "failure rate", detail)
