"""The fake Telegram's Stars side: every shape it produces passes PTB's de_json with nothing left
over, it refuses what Telegram refuses for a Stars invoice, and a payment happens only when the
bot answered the pre-checkout query ok within the deadline."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import telegram
from telegram import LabeledPrice

from bot.testing.bot_api import FakeBotApi
from tests.test_fake_bot_api import parses_cleanly

TOKEN = "424242:fake-bot-api-test-token"
USER = 501
OTHER = 502


@pytest.fixture(name="fake")
async def _fake() -> AsyncIterator[FakeBotApi]:
    api = FakeBotApi(TOKEN)
    await api.start()
    api.user_text(USER, USER, "hi")  # the private chat exists
    yield api
    await api.stop()


@pytest.fixture(name="bot")
async def _bot(fake: FakeBotApi) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(TOKEN, base_url=f"{fake.base_url}/bot") as bot:
        yield bot


async def invoice(bot: telegram.Bot, **overrides: Any) -> telegram.Message:
    params: dict[str, Any] = {
        "chat_id": USER, "title": "10 credits", "description": "Credits for videos",
        "payload": "p2v1:10:50:501:0123456789abcdef", "currency": "XTR",
        "prices": [LabeledPrice("10 credits", 50)],
    }  # fmt: skip
    params.update(overrides)
    return await bot.send_invoice(**params)


async def updates(fake: FakeBotApi) -> list[telegram.Update]:
    """Pending updates as raw JSON, each checked by PTB's de_json, then confirmed."""
    status, body = await raw_call(fake, "getUpdates", {"timeout": 0})
    assert status == 200
    got = [parses_cleanly(telegram.Update, raw) for raw in body["result"]]
    if got:
        await raw_call(fake, "getUpdates", {"offset": got[-1].update_id + 1, "timeout": 0})
    return got


async def test_a_paid_invoice_and_its_refund_parse_cleanly(
    fake: FakeBotApi, bot: telegram.Bot
) -> None:
    await updates(fake)
    sent = await invoice(bot)
    assert sent.invoice is not None and sent.invoice.total_amount == 50
    parses_cleanly(telegram.Message, sent.to_dict())
    query_id = fake.user_pay(USER, USER, sent.message_id)
    (asked,) = await updates(fake)
    query = asked.pre_checkout_query
    assert query is not None and query.id == query_id
    assert (query.currency, query.total_amount) == ("XTR", 50)
    assert query.invoice_payload == "p2v1:10:50:501:0123456789abcdef"

    assert await bot.answer_pre_checkout_query(query.id, ok=True)
    (paid,) = await updates(fake)
    payment = paid.message.successful_payment if paid.message else None
    assert payment is not None and payment.telegram_payment_charge_id.startswith("stx")
    for shape in fake.payments.payment_updates:
        parses_cleanly(telegram.Update, shape)
    transactions = await bot.get_star_transactions()
    (tx,) = transactions.transactions
    assert tx.id == payment.telegram_payment_charge_id and tx.amount == 50
    assert isinstance(tx.source, telegram.TransactionPartnerUser)
    assert tx.source.invoice_payload == query.invoice_payload

    assert await bot.refund_star_payment(USER, payment.telegram_payment_charge_id)
    (refunded,) = await updates(fake)
    assert refunded.message is not None and refunded.message.refunded_payment is not None
    assert refunded.message.refunded_payment.telegram_payment_charge_id == tx.id
    status, body = await raw_call(fake, "getStarTransactions", {})
    assert status == 200
    parsed = parses_cleanly(telegram.StarTransactions, body["result"])
    assert isinstance(parsed.transactions[1].receiver, telegram.TransactionPartnerUser)
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)charge_already_refunded"):
        await bot.refund_star_payment(USER, payment.telegram_payment_charge_id)
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)charge_not_found"):
        await bot.refund_star_payment(OTHER, payment.telegram_payment_charge_id)


async def raw_call(fake: FakeBotApi, method: str, params: dict[str, Any]) -> tuple[int, Any]:
    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{fake.base_url}/bot{TOKEN}/{method}", json=params) as response,
    ):
        return response.status, await response.json()


async def test_no_successful_payment_without_an_ok_answer_in_time(
    fake: FakeBotApi, bot: telegram.Bot
) -> None:
    await updates(fake)
    sent = await invoice(bot)

    fake.user_pay(USER, USER, sent.message_id)
    (refused,) = await updates(fake)
    assert refused.pre_checkout_query is not None
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)error_message_empty"):
        await bot.answer_pre_checkout_query(refused.pre_checkout_query.id, ok=False)
    await bot.answer_pre_checkout_query(
        refused.pre_checkout_query.id, ok=False, error_message="no"
    )
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)query is too old"):
        await bot.answer_pre_checkout_query(refused.pre_checkout_query.id, ok=True)

    fake.payments.timeout_s = 0.0  # every answer is now too late, as after Telegram's 10 s
    fake.user_pay(USER, USER, sent.message_id)
    (late,) = await updates(fake)
    assert late.pre_checkout_query is not None
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)query is too old"):
        await bot.answer_pre_checkout_query(late.pre_checkout_query.id, ok=True)

    assert await updates(fake) == []
    assert fake.payments.charges == {}
    assert (await bot.get_star_transactions()).transactions == ()


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"provider_token": "284685063:TEST:abc"}, "PAYMENT_PROVIDER_INVALID"),
        ({"prices": [LabeledPrice("a", 10), LabeledPrice("b", 5)]}, "STARS_INVOICE_INVALID"),
        ({"prices": [LabeledPrice("a", 0)]}, "CURRENCY_TOTAL_AMOUNT_INVALID"),
        ({"max_tip_amount": 5}, "STARS_INVOICE_INVALID"),
        ({"payload": "x" * 129}, "INVOICE_PAYLOAD_INVALID"),
        ({"title": "t" * 33}, "INVOICE_TITLE_INVALID"),
        ({"currency": "XXX"}, "CURRENCY_INVALID"),
        ({"currency": "USD"}, "PAYMENT_PROVIDER_INVALID"),  # fiat needs a provider
    ],
)
async def test_what_telegram_refuses_in_a_stars_invoice(
    bot: telegram.Bot, overrides: dict[str, Any], error: str
) -> None:
    with pytest.raises(telegram.error.BadRequest, match=f"(?i){error}"):
        await invoice(bot, **overrides)


async def test_prices_must_be_a_json_list(fake: FakeBotApi) -> None:
    status, body = await raw_call(
        fake, "sendInvoice",
        {"chat_id": USER, "title": "t", "description": "d", "payload": "p", "currency": "XTR",
         "prices": json.dumps({"amount": 5})},
    )  # fmt: skip
    assert status == 400 and "prices" in body["description"]
