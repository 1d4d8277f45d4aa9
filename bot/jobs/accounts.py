"""Users as accounts: who they are, their language, bans, admin grants and the /stats figures.

The handlers' one way to the users table, the ledger's grants and the statistics queries, so
`handlers/` never imports `bot.storage` (an import-linter contract in pyproject.toml). The types
the handlers format (`Balance`, `Stats`, `PeriodStats`, `CostRow`, `UserRecord`) are re-exported
here for the same reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.metrics import Metrics
from bot.storage import Balance, Ledger
from bot.storage.costs import CostRow, cost_rows
from bot.storage.stats import PeriodStats, Stats
from bot.storage.stats import stats as collect_stats
from bot.storage.users import UserRecord, UserStore
from bot.texts import CATALOGS

__all__ = [
    "AccountService",
    "Balance",
    "CostRow",
    "OperatorFigures",
    "PeriodStats",
    "Stats",
    "UserRecord",
]

log = logging.getLogger(__name__)

COST_PERIOD_S = 7 * 24 * 3600.0  # /stats shows provider costs over the last week


@dataclass(frozen=True)
class OperatorFigures:
    """What /stats shows: jobs today and this week, and provider costs of the last 7 days."""

    stats: Stats
    costs: list[CostRow]
    now: float


class AccountService:
    """Users, their chosen language, bans and admin grants; one short transaction each."""

    def __init__(
        self, users: UserStore, ledger: Ledger, metrics: Metrics, clock: Callable[[], float]
    ) -> None:
        self._users = users
        self._ledger = ledger
        self._metrics = metrics
        self._clock = clock
        # The /language choices seen so far: the handlers pick a reply's language without a
        # database read. Filled on each user's first update after a restart (`seen`).
        self._languages: dict[int, str] = {}

    def now(self) -> float:
        return self._clock()

    # ---- users and languages
    async def seen(self, user_id: int, language_code: str | None) -> UserRecord | None:
        """Record a user on any update (a no-op once known) and return their row."""
        await self._users.touch(user_id, language_code)
        record = await self._users.get(user_id)
        if record is not None:
            self._remember(user_id, record.language)
        return record

    def cached_language(self, user_id: int) -> str | None:
        """The user's /language choice as last seen, without a database read (None: not chosen)."""
        return self._languages.get(user_id)

    async def language(self, user_id: int) -> str | None:
        """The user's stored /language choice, or None."""
        stored = await self._users.language(user_id)
        self._remember(user_id, stored)
        return stored if stored in CATALOGS else None

    async def set_language(self, user_id: int, language: str) -> None:
        await self._users.set_language(user_id, language)
        self._remember(user_id, language)

    def _remember(self, user_id: int, language: str | None) -> None:
        if language is not None and language in CATALOGS:
            self._languages[user_id] = language

    # ---- bans
    async def ban(self, user_id: int) -> None:
        await self._users.ban(user_id)

    async def unban(self, user_id: int) -> None:
        await self._users.unban(user_id)

    async def is_banned(self, user_id: int) -> bool:
        return await self._users.is_banned(user_id)

    async def banned_ids(self) -> list[int]:
        return await self._users.banned_ids()

    async def should_notify_ban(self, user_id: int) -> bool:
        """True once per ban: the caller tells the user; later updates get silence."""
        return await self._users.should_notify_ban(user_id)

    # ---- operator
    async def grant(self, user_id: int, amount: int, *, admin_id: int) -> Balance:
        """Credits that do not expire, recorded in the ledger with the granting admin."""
        balance = await self._ledger.grant(user_id, amount, note=f"admin {admin_id}")
        self._metrics.credits("granted", amount)
        log.info("admin %s granted %d credit(s) to user %s", admin_id, amount, user_id)
        return balance

    async def figures(self) -> OperatorFigures:
        now = self._clock()
        db = self._users.db
        return OperatorFigures(
            stats=await collect_stats(db, now),
            costs=await cost_rows(db, now - COST_PERIOD_S),
            now=now,
        )
