"""Operator alerts: a provider's auth or balance problem reaches the admins once per incident."""

from __future__ import annotations

import logging

from bot.jobs.context import JobContext
from bot.jobs.messenger import Target
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
