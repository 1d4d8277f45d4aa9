"""The append-only credit ledger: every credit movement is one row, balances are sums of rows.

Three buckets: `daily` (DAILY_QUOTA granted lazily on a user's first action of each UTC day, only
today's rows count), `granted` (admin grants and referral bonuses, never expire) and `bought`
(Telegram Stars purchases, never expire). Reservations take from the daily bucket first, then
granted, then bought: what the user paid for is kept longest. A refund returns to the bucket it
was taken from, dated today, so a job that fails after midnight still gives its credit back.
Unique indexes make a second allowance for a day, a second refund or a second settle of a job
impossible even if the code tried.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.storage.db import Database, Tx

DAILY = "daily"
GRANTED = "granted"
BOUGHT = "bought"


def utc_day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def next_reset(ts: float) -> datetime:
    """The next UTC midnight after `ts`."""
    day = datetime.fromtimestamp(ts, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(days=1)


@dataclass(frozen=True)
class Balance:
    """What a user can spend now."""

    daily: int
    granted: int
    daily_quota: int
    resets_at: datetime
    unlimited: bool = False
    bought: int = 0

    @property
    def total(self) -> int:
        return self.daily + self.granted + self.bought


class Ledger:
    """Credit movements; the `*_in` methods run inside a caller's transaction."""

    def __init__(self, db: Database, *, daily_quota: int, clock: Callable[[], float] = time.time):
        self.db = db
        self.daily_quota = daily_quota
        self.clock = clock

    async def _insert(
        self,
        conn: Tx,
        user_id: int,
        job_id: int | None,
        kind: str,
        bucket: str,
        amount: int,
        now: float,
        note: str | None = None,
    ) -> None:
        await conn.execute(
            "INSERT INTO ledger (user_id, job_id, kind, bucket, day, amount, created_at, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (user_id, job_id, kind, bucket, utc_day(now), amount, now, note),
        )

    async def _insert_once(
        self,
        conn: Tx,
        user_id: int,
        kind: str,
        bucket: str,
        amount: int,
        now: float,
        note: str,
    ) -> bool:
        """Insert unless a unique index already holds this row; True when it was written.

        `ON CONFLICT DO NOTHING` (no target) is the same statement in SQLite and PostgreSQL.
        """
        cur = await conn.execute(
            "INSERT INTO ledger (user_id, job_id, kind, bucket, day, amount, created_at, note) "
            "VALUES (?, NULL, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (user_id, kind, bucket, utc_day(now), amount, now, note),
        )
        return cur.rowcount == 1

    async def ensure_allowance_in(self, conn: Tx, user_id: int, now: float) -> None:
        await conn.execute(
            "INSERT INTO ledger "
            "(user_id, job_id, kind, bucket, day, amount, created_at) "
            "VALUES (?, NULL, 'allowance', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (user_id, DAILY, utc_day(now), self.daily_quota, now),
        )

    async def balance_in(self, conn: Tx, user_id: int, now: float) -> Balance:
        await self.ensure_allowance_in(conn, user_id, now)
        row = await conn.fetchone(
            "SELECT COALESCE(SUM(CASE WHEN bucket = ? AND day = ? THEN amount END), 0), "
            "COALESCE(SUM(CASE WHEN bucket = ? THEN amount END), 0), "
            "COALESCE(SUM(CASE WHEN bucket = ? THEN amount END), 0) FROM ledger WHERE user_id = ?",
            (DAILY, utc_day(now), GRANTED, BOUGHT, user_id),
        )
        daily, granted, bought = (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)
        return Balance(daily, granted, self.daily_quota, next_reset(now), bought=bought)

    async def balance(self, user_id: int) -> Balance:
        """The user's balance now (records today's allowance on first sight)."""
        async with self.db.transaction() as conn:
            return await self.balance_in(conn, user_id, self.clock())

    async def reserve_in(
        self, conn: Tx, user_id: int, job_id: int, price: int, now: float
    ) -> bool:
        """Take `price` credits for a job, daily first; False (and nothing written) if short."""
        if price <= 0:
            return True
        bal = await self.balance_in(conn, user_id, now)
        if bal.total < price:
            return False
        # Daily first (it expires tonight), then granted, then bought (paid for: kept longest).
        left = price
        for bucket, available in ((DAILY, bal.daily), (GRANTED, bal.granted)):
            take = min(max(available, 0), left)
            if take:
                await self._insert(conn, user_id, job_id, "reserve", bucket, -take, now)
                left -= take
        if left:
            await self._insert(conn, user_id, job_id, "reserve", BOUGHT, -left, now)
        return True

    async def refund_in(self, conn: Tx, job_id: int, now: float) -> int:
        """Give back what a job reserved, once; returns the credits refunded."""
        rows = await conn.execute_fetchall(
            "SELECT user_id, bucket, -SUM(amount) FROM ledger "
            "WHERE job_id = ? AND kind = 'reserve' "
            "AND NOT EXISTS (SELECT 1 FROM ledger r WHERE r.job_id = ledger.job_id "
            "AND r.kind IN ('refund', 'settle')) GROUP BY user_id, bucket",
            (job_id,),
        )
        total = 0
        for user_id, bucket, amount in rows:
            await self._insert(conn, user_id, job_id, "refund", bucket, int(amount), now)
            total += int(amount)
        return total

    async def settle_in(self, conn: Tx, user_id: int, job_id: int, now: float) -> None:
        """Mark a job's reservation as spent for good (a zero-amount row, for the audit trail)."""
        # A job refunded is never settled (the refund already gave the credits back); the unique
        # index makes a second settle a no-op. Two statements rather than INSERT ... SELECT,
        # whose untyped parameters PostgreSQL would read as text.
        refunded = await conn.fetchone(
            "SELECT 1 FROM ledger WHERE job_id = ? AND kind = 'refund'", (job_id,)
        )
        if refunded is not None:
            return
        await conn.execute(
            "INSERT INTO ledger "
            "(user_id, job_id, kind, bucket, day, amount, created_at) "
            "VALUES (?, ?, 'settle', ?, ?, 0, ?) ON CONFLICT DO NOTHING",
            (user_id, job_id, DAILY, utc_day(now), now),
        )

    async def grant(self, user_id: int, amount: int, note: str | None = None) -> Balance:
        """An admin grant: credits that do not expire."""
        now = self.clock()
        async with self.db.transaction() as conn:
            await self._insert(conn, user_id, None, "grant", GRANTED, amount, now, note)
            return await self.balance_in(conn, user_id, now)

    async def purchase_in(
        self, conn: Tx, user_id: int, credits: int, charge_id: str, now: float
    ) -> bool:
        """Credit a Stars purchase once per charge id (the row's note); False if done before."""
        return await self._insert_once(conn, user_id, "purchase", BOUGHT, credits, now, charge_id)

    async def purchase_refund_in(
        self, conn: Tx, user_id: int, credits: int, charge_id: str, now: float
    ) -> bool:
        """Take back a refunded purchase's credits once per charge id (0 credits is recorded
        too: the refund happened even when nothing was left to take)."""
        return await self._insert_once(
            conn, user_id, "purchase_refund", BOUGHT, -credits, now, charge_id
        )

    async def referral_in(
        self, conn: Tx, user_id: int, credits: int, invitee_id: int, now: float
    ) -> bool:
        """A referral bonus (granted bucket); once per (user, invitee) by a unique index."""
        return await self._insert_once(
            conn, user_id, "referral", GRANTED, credits, now, f"invitee {invitee_id}"
        )

    async def refunded(self, job_id: int) -> int:
        """The credits a job got back (0 when it was not refunded)."""
        row = await self.db.fetchone(
            "SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE job_id = ? AND kind = 'refund'",
            (job_id,),
        )
        return int(row[0]) if row else 0

    async def rows(self, user_id: int) -> list[dict[str, object]]:
        """Every ledger row of a user, oldest first (audits and tests)."""
        rows = await self.db.fetchall(
            "SELECT * FROM ledger WHERE user_id = ? ORDER BY id", (user_id,)
        )
        return [dict(r) for r in rows]
