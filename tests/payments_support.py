"""Helpers of the Stars payment tests: buy a pack through the fakes, wait until the bot is idle."""

from __future__ import annotations

import asyncio

from bot.runtime import BotRuntime
from bot.testing.bot_api import FakeBotApi
from bot.testing.bot_api.wire import Call
from tests.conftest import USER
from tests.e2e_helpers import press

Json = dict[str, object]


def texts_to(tg: FakeBotApi, chat_id: int, part: str) -> list[str]:
    """Texts of the bot's sendMessage calls Telegram accepted in a chat that contain `part`."""
    return [
        str(c.params.get("text", ""))
        for c in tg.calls_of("sendMessage")
        if c.status == 200 and c.params.get("chat_id") == chat_id and part in c.params["text"]
    ]


async def wait_message(tg: FakeBotApi, chat_id: int, part: str, after: int = 0) -> Call:
    """The first accepted sendMessage to `chat_id` containing `part`, from call index `after`."""
    return await tg.wait_call(
        "sendMessage",
        lambda c: (
            c.status == 200
            and c.params.get("chat_id") == chat_id
            and part in str(c.params.get("text", ""))
            and tg.calls.index(c) >= after
        ),
    )


def message_id_of(tg: FakeBotApi, chat_id: int, part: str) -> int:
    """The newest bot message in a chat whose text contains `part`."""
    found = [m for m in tg.bot_messages(chat_id) if part in str(m.get("text", ""))]
    assert found, f"no bot message containing {part!r}"
    return int(found[-1]["message_id"])


async def open_packs(tg: FakeBotApi, user: int = USER, language_code: str = "en") -> int:
    """/buy in the private chat; returns the packs message id."""
    mark = len(tg.calls)
    tg.user_command(user, user, "buy", language_code=language_code)
    call = await wait_message(tg, user, "⭐", after=mark)
    assert "buy|" in str(call.params.get("reply_markup")), call.params
    return packs_message_id(tg, user)


def packs_message_id(tg: FakeBotApi, user: int = USER) -> int:
    """The newest bot message showing pack buttons."""
    found = [m for m in tg.bot_messages(user) if "buy|" in str(m.get("reply_markup"))]
    assert found, "no packs message"
    return int(found[-1]["message_id"])


async def request_invoice(tg: FakeBotApi, packs_msg: int, label: str, user: int = USER) -> Call:
    """Press a pack button; returns the sendInvoice call Telegram accepted."""
    mark = len(tg.calls)
    await press(tg, user, user, packs_msg, label)
    return await tg.wait_call(
        "sendInvoice",
        lambda c: c.status == 200 and c.params["chat_id"] == user and tg.calls.index(c) >= mark,
    )


def invoice_message_id(tg: FakeBotApi, user: int = USER) -> int:
    found = [m for m in tg.bot_messages(user) if "invoice" in m]
    assert found, "no invoice in the chat"
    return int(found[-1]["message_id"])


async def pay(tg: FakeBotApi, invoice_msg: int, user: int = USER, chat_id: int = USER) -> Call:
    """The user pays; returns the bot's answerPreCheckoutQuery call."""
    query_id = tg.user_pay(chat_id, user, invoice_msg)
    return await tg.wait_call(
        "answerPreCheckoutQuery", lambda c: c.params.get("pre_checkout_query_id") == query_id
    )


async def buy(tg: FakeBotApi, label: str = "10 credits", user: int = USER) -> str:
    """/buy, a pack, pay, until the bot confirms; returns Telegram's charge id."""
    packs = await open_packs(tg, user)
    await request_invoice(tg, packs, label, user)
    mark = len(tg.calls)
    answer = await pay(tg, invoice_message_id(tg, user), user)
    assert answer.params.get("ok") in (True, "true", "True"), answer.params
    await wait_message(tg, user, "Payment received", after=mark)
    charge = list(tg.payments.charges.values())[-1]
    return charge.charge_id


async def bot_idle(tg: FakeBotApi, runtime: BotRuntime) -> None:
    """Every update Telegram holds was fetched and PTB finished handling all of them.

    An update is confirmed (dropped from the fake) only by the getUpdates after the one that
    returned it, and PTB queues it before asking again; `update_queue.join()` then waits until
    each queued update's handlers returned.
    """
    await tg.wait_until(lambda: not tg.updates.available() and tg.waiting_polls > 0)
    assert runtime.app is not None
    await asyncio.wait_for(runtime.app.update_queue.join(), timeout=10)


async def ledger_rows(runtime: BotRuntime, user: int = USER) -> list[tuple[str, str, int]]:
    assert runtime.ctx is not None
    return [
        (str(r["kind"]), str(r["bucket"]), int(str(r["amount"])))
        for r in await runtime.ctx.ledger.rows(user)
    ]
