"""Provider account balances (issue 11): where a provider documents a balance endpoint (apikley's
`GET /api/v1/chat/credit`), the bot reads it every few minutes, shows it on /readyz and in a
gauge, and alerts the admins once when it falls below PROVIDER_LOW_BALANCE (again only after it
has recovered and dropped once more). Without a threshold nothing is polled: /readyz reads the
balance when asked."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.jobs.context import JobContext
from bot.providers.errors import ProviderError
from bot.texts import t

log = logging.getLogger(__name__)
CHECK_EVERY_S = 600.0
READYZ_FRESH_S = 60.0


class BalanceWatch:
    """Reads balances; remembers which providers are already known to be low."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.latest: dict[str, float] = {}
        self._low: set[str] = set()
        self._read_at: float | None = None

    async def check_once(self) -> None:
        threshold = self.ctx.settings.provider_low_balance
        for provider in self.ctx.registry.providers:
            try:
                value = await provider.balance()
            except ProviderError as exc:
                log.warning("balance of %s unavailable: %s", provider.name, exc)
                continue
            if value is None:
                continue
            self.latest[provider.name] = value
            self.ctx.metrics.provider_balance.labels(provider=provider.name).set(value)
            if threshold and value < threshold:
                if provider.name not in self._low:
                    self._low.add(provider.name)  # before awaiting: one alert per incident
                    detail = t("en", "operator_low_balance", balance=f"{value:g}",
                               threshold=f"{threshold:g}")  # fmt: skip
                    await self.ctx.alerts.alert(provider.name, "low balance", detail)
            else:
                self._low.discard(provider.name)

    async def run(self) -> None:
        """Watch for a low balance; without a threshold balances are only read for /readyz."""
        if not self.ctx.settings.provider_low_balance:
            return
        while True:
            try:
                await self.check_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("balance check failed; continuing")
            await asyncio.sleep(CHECK_EVERY_S)

    async def info(self) -> dict[str, Any]:
        """What /readyz adds: the balances (informational, never a readiness check), read at
        most once a minute so a busy health checker does not hammer the provider."""
        now = self.ctx.clock()
        if self._read_at is None or now - self._read_at >= READYZ_FRESH_S:
            self._read_at = now
            await self.check_once()
        return {"balances": dict(self.latest)} if self.latest else {}
