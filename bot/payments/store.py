"""Invoices, payments and refunds in the database; every credit movement is a ledger row.

A payment row and its `purchase` ledger row are written in one transaction, both keyed by
Telegram's `telegram_payment_charge_id` (unique), so whatever delivers a successful payment twice
(Telegram redelivering an update, the startup reconciliation, a restart between receipt and
write) credits it once. A refund likewise writes one `purchase_refund` row per charge id.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.payments.payload import InvoicePayload
from bot.storage.db import Database, Row, Tx
from bot.storage.ledger import Balance, Ledger, utc_day


@dataclass(frozen=True)
class Payment:
    """One row of the payments table."""

    charge_id: str
    user_id: int
    credits: int
    stars: int
    paid_at: float
    refunded_at: float | None
    refunded_credits: int | None
    told_at: float | None


@dataclass(frozen=True)
class Credited:
    """The outcome of recording a successful payment."""

    payment: Payment
    new: bool  # False: this charge id was credited before (a duplicate)
    balance: Balance


@dataclass(frozen=True)
class TakenBack:
    """The outcome of recording a refund."""

    payment: Payment
    new: bool  # False: this refund was recorded before
    taken: int  # credits taken back (what was left of the bought credits, at most the pack's)
    balance: Balance


_PAYMENT_COLUMNS = (
    "charge_id, user_id, credits, stars, paid_at, refunded_at, refunded_credits, told_at"
)


class PaymentStore:
    def __init__(self, db: Database, ledger: Ledger, clock: Callable[[], float] = time.time):
        self.db = db
        self.ledger = ledger
        self.clock = clock

    async def record_invoice(self, payload: InvoicePayload) -> None:
        """Written before sendInvoice: pre-checkout accepts only invoices we issued."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO invoices (nonce, user_id, credits, stars, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (payload.nonce, payload.user_id, payload.credits, payload.stars, self.clock()),
            )

    async def invoice_matches(self, payload: InvoicePayload) -> bool:
        row = await self.db.fetchone(
            "SELECT user_id, credits, stars FROM invoices WHERE nonce = ?", (payload.nonce,)
        )
        return row is not None and (int(row[0]), int(row[1]), int(row[2])) == (
            payload.user_id,
            payload.credits,
            payload.stars,
        )

    async def credit(
        self,
        *,
        charge_id: str,
        user_id: int,
        credits: int,
        stars: int,
        nonce: str | None,
        provider_charge_id: str | None,
        paid_at: float | None = None,
    ) -> Credited:
        """Record a successful payment and credit it, once per charge id."""
        now = self.clock()
        paid = now if paid_at is None else paid_at
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO payments (charge_id, user_id, credits, stars, nonce, "
                "provider_charge_id, day, paid_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (
                    charge_id,
                    user_id,
                    credits,
                    stars,
                    nonce,
                    provider_charge_id,
                    utc_day(paid),
                    paid,
                ),
            )
            new = await self.ledger.purchase_in(conn, user_id, credits, charge_id, now)
            balance = await self.ledger.balance_in(conn, user_id, now)
            payment = await self._payment_in(conn, charge_id)
        assert payment is not None
        return Credited(payment, new, balance)

    async def mark_told(self, charge_id: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE payments SET told_at = ? WHERE charge_id = ?", (self.clock(), charge_id)
            )

    async def payment(self, charge_id: str) -> Payment | None:
        row = await self.db.fetchone(
            f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE charge_id = ?",  # noqa: S608
            (charge_id,),
        )
        return _payment(row)

    async def untold(self) -> list[Payment]:
        """Credited payments whose buyer was never told (a crash came in between)."""
        rows = await self.db.fetchall(
            f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE told_at IS NULL ORDER BY paid_at"  # noqa: S608
        )
        return [p for row in rows if (p := _payment(row)) is not None]

    async def unspent(self, user_id: int) -> int:
        """The user's bought credits not spent yet."""
        return max((await self.ledger.balance(user_id)).bought, 0)

    async def take_back(self, charge_id: str) -> TakenBack | None:
        """Record a refund of a known payment: take back what is left of its credits, once."""
        now = self.clock()
        async with self.db.transaction() as conn:
            payment = await self._payment_in(conn, charge_id)
            if payment is None:
                return None
            balance = await self.ledger.balance_in(conn, payment.user_id, now)
            taken = min(payment.credits, max(balance.bought, 0))
            new = await self.ledger.purchase_refund_in(
                conn, payment.user_id, taken, charge_id, now
            )
            if new:
                await conn.execute(
                    "UPDATE payments SET refunded_at = ?, refund_day = ?, refunded_credits = ? "
                    "WHERE charge_id = ?",
                    (now, utc_day(now), taken, charge_id),
                )
                balance = await self.ledger.balance_in(conn, payment.user_id, now)
            else:
                taken = payment.refunded_credits or 0
            updated = await self._payment_in(conn, charge_id)
        assert updated is not None
        return TakenBack(updated, new, taken, balance)

    @staticmethod
    async def _payment_in(conn: Tx, charge_id: str) -> Payment | None:
        return _payment(
            await conn.fetchone(
                f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE charge_id = ?",  # noqa: S608
                (charge_id,),
            )
        )


def _payment(row: Row | None) -> Payment | None:
    if row is None:
        return None
    return Payment(
        charge_id=str(row[0]),
        user_id=int(row[1]),
        credits=int(row[2]),
        stars=int(row[3]),
        paid_at=float(row[4]),
        refunded_at=None if row[5] is None else float(row[5]),
        refunded_credits=None if row[6] is None else int(row[6]),
        told_at=None if row[7] is None else float(row[7]),
    )
