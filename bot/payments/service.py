"""The purchase, as Telegram Stars defines it: invoice, pre-checkout verdict, credit, refund.

Every step is idempotent on Telegram's charge id, so it is safe to run again: a redelivered
`successful_payment`, the start-up reconciliation against getStarTransactions (which closes the
window where PTB had confirmed an update the process then died holding), and a refund recorded
both by the admin's /refund and by Telegram's `refunded_payment` message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from enum import StrEnum

from telegram import Bot, LabeledPrice, TransactionPartnerUser
from telegram.error import BadRequest, TelegramError

from bot.faults import crash_point
from bot.metrics import Metrics
from bot.payments.packs import CURRENCY, CreditPack, find_pack
from bot.payments.payload import InvoicePayload, new_payload
from bot.payments.store import Credited, PaymentStore, TakenBack
from bot.texts import credits_label, t

log = logging.getLogger(__name__)

INVOICE_PAYMENT = "invoice_payment"  # TransactionPartnerUser.transaction_type of a purchase
_PAGE = 100  # getStarTransactions' maximum limit
_MAX_PAGES = 50


class Refusal(StrEnum):
    """Why a pre-checkout query is refused; each value is a text key."""

    BANNED = "pay_err_banned"
    MISMATCH = "pay_err_mismatch"
    STALE = "pay_err_stale"
    OFF = "pay_err_off"


class RefundOutcome(StrEnum):
    DONE = "done"
    UNKNOWN = "unknown"  # no payment with this charge id
    ALREADY = "already"  # refunded before
    SPENT = "spent"  # some of its credits are spent; needs the admin's confirmation
    REFUSED = "refused"  # Telegram refused the refund


@dataclass(frozen=True)
class RefundResult:
    outcome: RefundOutcome
    user_id: int = 0
    stars: int = 0
    credits: int = 0
    left: int = 0  # bought credits the user still has
    taken: int = 0
    error: str = ""
    record: TakenBack | None = None


@dataclass(frozen=True)
class Reconciled:
    credited: int = 0
    refunded: int = 0


class PaymentService:
    def __init__(
        self,
        store: PaymentStore,
        packs: tuple[CreditPack, ...],
        bot: Bot,
        metrics: Metrics,
        language_of: Callable[[int], Awaitable[str | None]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.packs = packs
        self.bot = bot
        self.metrics = metrics
        self.language_of = language_of  # async user_id -> stored language or None
        self.clock = clock
        self._charge_locks: dict[str, asyncio.Lock] = {}

    @property
    def enabled(self) -> bool:
        return bool(self.packs)

    @asynccontextmanager
    async def charge_lock(self, charge_id: str) -> AsyncIterator[None]:
        """One handler at a time per charge: crediting is idempotent anyway (the database), but
        telling is a message, and two copies of one update must not both see "not told yet"."""
        # Kept for the process's life (one small lock per purchase): dropping a lock another
        # handler still waits on would let a third one in beside it.
        async with self._charge_locks.setdefault(charge_id, asyncio.Lock()):
            yield

    # ---- invoice and pre-checkout -------------------------------------------------------------
    async def send_invoice(self, chat_id: int, user_id: int, credits: int, lang: str) -> bool:
        """An XTR invoice for the pack; False when no such pack is on sale (a stale button)."""
        pack = find_pack(self.packs, credits)
        if pack is None:
            return False
        payload = new_payload(pack, user_id)
        await self.store.record_invoice(payload)  # before Telegram can show it to anyone
        label = credits_label(lang, pack.credits)
        await self.bot.send_invoice(
            chat_id=chat_id,
            title=t(lang, "pay_invoice_title", credits=label),
            description=t(lang, "pay_invoice_description", credits=label),
            payload=payload.encode(),
            currency=CURRENCY,
            prices=[LabeledPrice(label, pack.stars)],
            # No provider_token at all: Stars need none, and with `Defaults` set PTB 22 sends an
            # empty string as "[]" (caught by the fake), which Telegram refuses.
        )
        log.info("invoice sent: user=%s pack=%s stars=%s", user_id, pack.credits, pack.stars)
        return True

    async def refusal(
        self, user_id: int, currency: str, total_amount: int, payload_text: str, banned: bool
    ) -> Refusal | None:
        """None when the pre-checkout query may be accepted."""
        if banned:
            return Refusal.BANNED
        payload = InvoicePayload.parse(payload_text)
        if (
            payload is None
            or payload.user_id != user_id
            or currency != CURRENCY
            or total_amount != payload.stars
            or not await self.store.invoice_matches(payload)
        ):
            return Refusal.MISMATCH
        if not self.enabled:
            return Refusal.OFF
        pack = find_pack(self.packs, payload.credits)
        if pack is None or pack.stars != payload.stars:
            return Refusal.STALE  # the operator changed the packs since the invoice was sent
        return None

    # ---- successful payment --------------------------------------------------------------------
    async def credit(
        self,
        *,
        user_id: int,
        currency: str,
        total_amount: int,
        payload_text: str | None,
        charge_id: str,
        provider_charge_id: str | None,
        paid_at: float | None = None,
    ) -> Credited:
        """Credit a payment Telegram reports as done, once per charge id.

        The credits are the payload's (what the buyer agreed to at pre-checkout), never the
        current pack table's. A payload we cannot read still gets a payment row (0 credits),
        so the operator sees it in /stats and can /refund it.
        """
        payload = InvoicePayload.parse(payload_text)
        credits = payload.credits if payload is not None and currency == CURRENCY else 0
        if payload is None or currency != CURRENCY:
            log.error(
                "payment %s from user %s: unreadable payload or currency %s; nothing credited, "
                "refund it with /refund",
                charge_id,
                user_id,
                currency,
            )
        crash_point("payment_received")
        credited = await self.store.credit(
            charge_id=charge_id,
            user_id=user_id,
            credits=credits,
            stars=total_amount,
            nonce=payload.nonce if payload else None,
            provider_charge_id=provider_charge_id,
            paid_at=paid_at,
        )
        crash_point("payment_credited")
        if credited.new:
            self.metrics.purchase(credits, total_amount)
            log.info(
                "purchase: user=%s pack=%s stars=%s credits=%s charge=%s",
                user_id,
                credits,
                total_amount,
                credits,
                charge_id,
            )
        else:
            log.info("purchase %s of user %s was credited before: not again", charge_id, user_id)
        return credited

    async def tell_credited(self, credited: Credited, lang: str | None = None) -> None:
        """Tell the buyer once (a restart tells whoever a crash left untold)."""
        payment = credited.payment
        if payment.told_at is not None:
            return
        language = lang or await self._language(payment.user_id)
        text = t(
            language,
            "pay_done",
            credits=credits_label(language, payment.credits),
            total=credited.balance.total,
        )
        await self.bot.send_message(chat_id=payment.user_id, text=text)
        await self.store.mark_told(payment.charge_id)

    # ---- refunds -------------------------------------------------------------------------------
    async def refund(self, charge_id: str, *, confirmed: bool) -> RefundResult:
        """An admin's refund: Stars back through Telegram, then the credits taken back."""
        payment = await self.store.payment(charge_id)
        if payment is None:
            return RefundResult(RefundOutcome.UNKNOWN)
        base = RefundResult(RefundOutcome.UNKNOWN, payment.user_id, payment.stars, payment.credits)
        if payment.refunded_at is not None:
            taken = payment.refunded_credits or 0
            return replace(base, outcome=RefundOutcome.ALREADY, taken=taken)
        left = await self.store.unspent(payment.user_id)
        if left < payment.credits and not confirmed:
            return replace(base, outcome=RefundOutcome.SPENT, left=left)
        try:
            await self.bot.refund_star_payment(
                user_id=payment.user_id, telegram_payment_charge_id=charge_id
            )
        except BadRequest as exc:
            if "ALREADY_REFUNDED" not in exc.message.upper():
                return replace(base, outcome=RefundOutcome.REFUSED, error=exc.message)
            log.info("charge %s was already refunded at Telegram: recording it", charge_id)
        except TelegramError as exc:
            return replace(base, outcome=RefundOutcome.REFUSED, error=str(exc))
        record = await self.record_refund(charge_id)
        taken = record.taken if record else 0
        return replace(base, outcome=RefundOutcome.DONE, left=left, taken=taken, record=record)

    async def record_refund(self, charge_id: str) -> TakenBack | None:
        """Telegram refunded this charge (our /refund, or its `refunded_payment` message)."""
        taken = await self.store.take_back(charge_id)
        if taken is None:
            log.warning("refund of unknown charge %s: nothing to take back", charge_id)
            return None
        if taken.new:
            p = taken.payment
            self.metrics.refund(p.stars)
            log.info(
                "purchase refund: user=%s pack=%s stars=%s credits_taken=%s charge=%s",
                p.user_id,
                p.credits,
                p.stars,
                taken.taken,
                charge_id,
            )
        return taken

    async def tell_refunded(self, taken: TakenBack) -> None:
        language = await self._language(taken.payment.user_id)
        text = t(
            language,
            "pay_refunded",
            stars=taken.payment.stars,
            credits=credits_label(language, taken.taken),
            total=taken.balance.total,
        )
        await self.bot.send_message(chat_id=taken.payment.user_id, text=text)

    # ---- reconciliation ------------------------------------------------------------------------
    async def reconcile(self) -> Reconciled:
        """Credit every purchase (and record every refund) Telegram has and we do not.

        Run at start-up: an update PTB had confirmed to Telegram before the process died is
        never redelivered, but its transaction is in getStarTransactions.
        """
        credited = refunded = 0
        for page in range(_MAX_PAGES):
            result = await self.bot.get_star_transactions(offset=page * _PAGE, limit=_PAGE)
            for tx in result.transactions:
                source, receiver = tx.source, tx.receiver
                if (
                    isinstance(source, TransactionPartnerUser)
                    and source.transaction_type == INVOICE_PAYMENT
                ):
                    done = await self.credit(
                        user_id=source.user.id,
                        currency=CURRENCY,
                        total_amount=tx.amount,
                        payload_text=source.invoice_payload,
                        charge_id=tx.id,
                        provider_charge_id=None,
                        paid_at=tx.date.timestamp(),
                    )
                    if done.new:
                        credited += 1
                    await self._tell_quietly(done)
                elif isinstance(receiver, TransactionPartnerUser):
                    taken = await self.store.take_back(tx.id)
                    if taken is not None and taken.new:
                        refunded += 1
                        self.metrics.refund(taken.payment.stars)
            if len(result.transactions) < _PAGE:
                break
        for payment in await self.store.untold():
            await self._tell_quietly(await self._as_credited(payment.charge_id))
        if credited or refunded:
            log.warning(
                "payments reconciled with Telegram: %s purchase(s) credited, %s refund(s) "
                "recorded that no update had reported",
                credited,
                refunded,
            )
        return Reconciled(credited, refunded)

    async def _as_credited(self, charge_id: str) -> Credited | None:
        payment = await self.store.payment(charge_id)
        if payment is None:
            return None
        balance = await self.store.ledger.balance(payment.user_id)
        return Credited(payment, False, balance)

    async def _tell_quietly(self, credited: Credited | None) -> None:
        if credited is None or credited.payment.told_at is not None:
            return
        try:
            await self.tell_credited(credited)
        except TelegramError as exc:
            log.info(
                "could not tell user %s about their payment: %s", credited.payment.user_id, exc
            )

    async def _language(self, user_id: int) -> str:
        return await self.language_of(user_id) or "en"
