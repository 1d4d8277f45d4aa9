"""Telegram Stars in the fake Bot API: invoices, the buyer's side, refunds and transactions.

Bot side: `sendInvoice`, `answerPreCheckoutQuery`, `refundStarPayment`, `getStarTransactions`,
with the rules of a Stars (XTR) invoice: no provider token, exactly one price, a positive whole
amount, a payload of 1-128 bytes. User side (`pay`, driven by `SimulatedUsers.user_pay`): paying
an invoice sends the bot a `pre_checkout_query`; only an ok answer given within the deadline
(Telegram's 10 s) makes the payment happen: the `successful_payment` message arrives and the
transaction appears in getStarTransactions. A late, refusing or missing answer charges nothing.
`telegram_refund` plays a refund made on Telegram's side; every refund sends `refunded_payment`.
"""

from __future__ import annotations

import copy
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from bot.testing.bot_api.compose import Handler, new_bot_message
from bot.testing.bot_api.store import World, now
from bot.testing.bot_api.updates import UpdateQueue
from bot.testing.bot_api.wire import Json, UploadedFile, bad_request

STARS = "XTR"
PRE_CHECKOUT_TIMEOUT_S = 10.0  # Telegram cancels a payment whose query is not answered by then
_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
_FIAT = frozenset({"USD", "EUR", "RUB", "GBP", "UAH", "KZT"})


@dataclass
class PreCheckout:
    """A pre_checkout_query the bot has not answered yet."""

    query_id: str
    user: Json
    chat_id: int
    invoice: Json
    payload: str
    asked_at: float


@dataclass
class Charge:
    """A completed Stars payment."""

    charge_id: str
    user: Json
    chat_id: int
    amount: int
    payload: str
    date: int
    refunded: bool = False


@dataclass
class PaymentState:
    """What the fake remembers about payments (tests read it)."""

    timeout_s: float = PRE_CHECKOUT_TIMEOUT_S
    open_queries: dict[str, PreCheckout] = field(default_factory=dict)
    answers: list[tuple[str, bool, str | None, bool]] = field(default_factory=list)
    charges: dict[str, Charge] = field(default_factory=dict)
    transactions: list[Json] = field(default_factory=list)
    payment_updates: list[Json] = field(default_factory=list)  # successful_payment updates sent
    # (chat id, invoice message id) -> payload: what the buyer's client knows, not in the Message
    invoice_payloads: dict[tuple[int, int], str] = field(default_factory=dict)


class PaymentMethods:
    """Handlers for the payment methods plus the user-side actions."""

    _query_ids = itertools.count(5_100_000_000_000_000_001)

    def __init__(self, world: World, updates: UpdateQueue, state: PaymentState) -> None:
        self.world = world
        self.updates = updates
        self.state = state

    def handlers(self) -> dict[str, Handler]:
        return {
            "sendInvoice": self.send_invoice,
            "answerPreCheckoutQuery": self.answer_pre_checkout,
            "refundStarPayment": self.refund_star_payment,
            "getStarTransactions": self.get_star_transactions,
        }

    # ---- bot side ------------------------------------------------------------------------------
    async def send_invoice(self, params: Json, files: dict[str, UploadedFile]) -> Json:
        """sendInvoice, as strict as Telegram about Stars invoices."""
        title, description = str(params.get("title") or ""), str(params.get("description") or "")
        payload, currency = str(params.get("payload") or ""), str(params.get("currency") or "")
        if not 1 <= len(title) <= 32:
            raise bad_request("INVOICE_TITLE_INVALID" if title else "title is empty")
        if not 1 <= len(description) <= 255:
            raise bad_request("INVOICE_DESCRIPTION_INVALID")
        if not 1 <= len(payload.encode()) <= 128:
            raise bad_request("INVOICE_PAYLOAD_INVALID")
        if currency != STARS and currency not in _FIAT:
            raise bad_request("CURRENCY_INVALID")
        prices = _prices(params.get("prices"))
        if currency == STARS:
            if params.get("provider_token"):
                raise bad_request("PAYMENT_PROVIDER_INVALID")  # Stars take no provider
            if len(prices) != 1:
                raise bad_request("STARS_INVOICE_INVALID")  # exactly one price for Stars
            if params.get("max_tip_amount") or params.get("suggested_tip_amounts"):
                raise bad_request("STARS_INVOICE_INVALID")
        elif not params.get("provider_token"):
            raise bad_request("PAYMENT_PROVIDER_INVALID")
        total = sum(int(p["amount"]) for p in prices)
        if total <= 0:
            raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
        chat, message = new_bot_message(self.world, params)
        message["invoice"] = {
            "title": title,
            "description": description,
            "start_parameter": str(params.get("start_parameter") or ""),
            "currency": currency,
            "total_amount": total,
        }
        stored = self.world.add_message(chat, message)
        self.state.invoice_payloads[(chat["id"], stored["message_id"])] = payload
        return copy.deepcopy(stored)

    async def answer_pre_checkout(self, params: Json, files: dict[str, UploadedFile]) -> bool:
        """answerPreCheckoutQuery: once per query, within the deadline; ok=True pays."""
        query_id = str(params.get("pre_checkout_query_id") or "")
        ok = _flag(params.get("ok"))
        error = params.get("error_message")
        query = self.state.open_queries.pop(query_id, None)
        if query is None:
            raise bad_request(_TOO_OLD)
        late = time.monotonic() - query.asked_at > self.state.timeout_s
        self.state.answers.append((query_id, ok, None if error is None else str(error), late))
        if late:
            raise bad_request(_TOO_OLD)  # Telegram already told the buyer it failed
        if not ok and not str(error or "").strip():
            self.state.open_queries[query_id] = query  # a bad call does not use up the query
            raise bad_request("ERROR_MESSAGE_EMPTY")
        if ok:
            self._complete(query)
        return True

    async def refund_star_payment(self, params: Json, files: dict[str, UploadedFile]) -> bool:
        """refundStarPayment: the buyer gets the Stars back once."""
        charge = self.state.charges.get(str(params.get("telegram_payment_charge_id") or ""))
        if charge is None or params.get("user_id") != charge.user["id"]:
            raise bad_request("CHARGE_NOT_FOUND")
        if charge.refunded:
            raise bad_request("CHARGE_ALREADY_REFUNDED")
        self.refund(charge.charge_id)
        return True

    async def get_star_transactions(self, params: Json, files: dict[str, UploadedFile]) -> Json:
        """getStarTransactions: chronological, paged by offset and limit (1-100)."""
        offset = params.get("offset") or 0
        limit = params.get("limit") or 100
        if not isinstance(offset, int) or offset < 0:
            raise bad_request("offset is invalid")
        if not isinstance(limit, int) or not 1 <= limit <= 100:
            raise bad_request("limit is invalid")
        return {"transactions": copy.deepcopy(self.state.transactions[offset : offset + limit])}

    # ---- user side -----------------------------------------------------------------------------
    def pay(self, chat_id: int, user: Json, message_id: int) -> str:
        """The user presses Pay on an invoice: the bot gets a pre_checkout_query."""
        message = self.world.get_message(chat_id, message_id)
        payload = self.state.invoice_payloads.get((chat_id, message_id))
        if message is None or "invoice" not in message or payload is None:
            raise ValueError(f"no invoice {message_id} in chat {chat_id}")
        invoice = message["invoice"]
        query_id = str(next(self._query_ids))
        self.state.open_queries[query_id] = PreCheckout(
            query_id, user, chat_id, invoice, payload, time.monotonic()
        )
        self.updates.push(
            {
                "pre_checkout_query": {
                    "id": query_id,
                    "from": dict(user),
                    "currency": invoice["currency"],
                    "total_amount": invoice["total_amount"],
                    "invoice_payload": payload,
                }
            }
        )
        return query_id

    def refund(self, charge_id: str) -> None:
        """A refund (the bot's, or Telegram's support's): transaction plus refunded_payment."""
        charge = self.state.charges[charge_id]
        charge.refunded = True
        self.state.transactions.append(
            {
                "id": charge.charge_id,  # a refund carries the id of the payment it reverses
                "amount": charge.amount,
                "date": now(),
                "receiver": _partner(charge.user, charge.payload),
            }
        )
        message = {
            "from": dict(charge.user),
            "date": now(),
            "refunded_payment": {
                "currency": STARS,
                "total_amount": charge.amount,
                "invoice_payload": charge.payload,
                "telegram_payment_charge_id": charge.charge_id,
            },
        }
        self._user_message(charge.chat_id, message)

    def _complete(self, query: PreCheckout) -> None:
        charge = Charge(
            charge_id="stxP2V" + secrets.token_urlsafe(48),
            user=query.user,
            chat_id=query.chat_id,
            amount=int(query.invoice["total_amount"]),
            payload=query.payload,
            date=now(),
        )
        self.state.charges[charge.charge_id] = charge
        self.state.transactions.append(
            {
                "id": charge.charge_id,
                "amount": charge.amount,
                "date": charge.date,
                "source": _partner(charge.user, charge.payload),
            }
        )
        message = {
            "from": dict(query.user),
            "date": charge.date,
            "successful_payment": {
                "currency": query.invoice["currency"],
                "total_amount": charge.amount,
                "invoice_payload": query.payload,
                "telegram_payment_charge_id": charge.charge_id,
                "provider_payment_charge_id": "",  # Stars have no payment provider
            },
        }
        self.state.payment_updates.append(self._user_message(query.chat_id, message))

    def _user_message(self, chat_id: int, message: Json) -> Json:
        stored = self.world.add_message(self.world.chats[chat_id], message)
        return self.updates.push({"message": copy.deepcopy(stored)})


def _partner(user: Json, payload: str) -> Json:
    return {
        "type": "user",
        "transaction_type": "invoice_payment",
        "user": dict(user),
        "invoice_payload": payload,
    }


def _prices(raw: Any) -> list[Json]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise bad_request("can't parse prices JSON object") from exc
    if not isinstance(raw, list) or not raw:
        raise bad_request("can't parse prices JSON object")
    for price in raw:
        amount = price.get("amount") if isinstance(price, dict) else None
        if not isinstance(amount, int) or not str(price.get("label") or "").strip():
            raise bad_request("can't parse prices JSON object")
    return raw


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1")
