"""Telegram Stars end to end through the fakes: from "not enough credits" to a video paid with
Stars, the pre-checkout refusals, a duplicate successful_payment, /buy in a group, Russian."""

from __future__ import annotations

import json

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from bot.testing.sample_media import make_sample_photo
from tests.conftest import OTHER_USER, TOKEN, USER, BotFactory
from tests.e2e_helpers import button, options_message_id, press
from tests.lifecycle_support import choose, markup_of, open_options, wait_text
from tests.payments_support import (
    bot_idle,
    buy,
    invoice_message_id,
    ledger_rows,
    open_packs,
    pay,
    request_invoice,
    texts_to,
    wait_message,
)

ADMIN = 1003
GROUP = -100777


async def test_a_new_user_goes_from_no_credits_to_a_video_paid_with_stars(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot(DAILY_QUOTA="0") as runtime:
        photo_id, msg_id = await open_options(tg)
        await press(tg, USER, USER, msg_id, "Generate")
        # The refusal stays in the options message, with a Top up button and the way forward.
        text = await wait_text(tg, msg_id, "Not enough credits")
        assert "top up with Telegram Stars" in text
        assert "⭐ Top up" in markup_of(tg, msg_id)

        mark = len(tg.calls)
        await press(tg, USER, USER, msg_id, "Top up")
        packs = await wait_message(tg, USER, "Pick a pack", after=mark)
        rows = packs.params["reply_markup"]["inline_keyboard"]
        labels = [b["text"] for row in rows for b in row]
        assert labels == ["10 credits · 50 ⭐", "50 credits · 200 ⭐", "120 credits · 400 ⭐"]
        packs_msg = int(tg.bot_messages(USER)[-1]["message_id"])

        invoice = await request_invoice(tg, packs_msg, "10 credits")
        params = invoice.params
        assert params["currency"] == "XTR" and not params.get("provider_token")
        assert json.loads(params["prices"]) == [{"label": "10 credits", "amount": 50}]
        payload = str(params["payload"])
        assert len(payload.encode()) <= 128 and str(USER) in payload
        assert TOKEN.split(":")[1] not in payload

        mark = len(tg.calls)
        answer = await pay(tg, invoice_message_id(tg))
        assert answer.params["ok"] in (True, "true", "True")
        done = await wait_message(tg, USER, "Payment received", after=mark)
        assert "+10 credits" in done.params["text"] and "<b>10</b>" in done.params["text"]
        bought = [("allowance", "daily", 0), ("purchase", "bought", 10)]
        assert await ledger_rows(runtime) == bought

        # Back to the photo's options message: Generate now goes through, paid from bought.
        await press(tg, USER, USER, msg_id, "Generate")
        task = await evolink.wait_task()
        evolink.succeed(task.id)
        video = await tg.wait_call("sendVideo", timeout=20)
        assert video.params["reply_parameters"]["message_id"] == photo_id
        await wait_text(tg, msg_id, "Done")
        assert await ledger_rows(runtime) == [
            ("allowance", "daily", 0),
            ("purchase", "bought", 10),
            ("reserve", "bought", -1),
            ("settle", "daily", 0),
        ]


async def test_daily_credits_go_first_then_granted_then_bought(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot(DAILY_QUOTA="1") as runtime:
        assert runtime.ctx is not None
        await runtime.ctx.ledger.grant(USER, 1, note="test")
        await buy(tg)
        _, msg_id = await open_options(tg)
        await choose(tg, msg_id, "10 s")
        await choose(tg, msg_id, "720p")  # 3 credits: one from each bucket, in this order
        await press(tg, USER, USER, msg_id, "Generate")
        await evolink.wait_task()
        reserves = [r for r in await ledger_rows(runtime) if r[0] == "reserve"]
        assert reserves == [("reserve", "daily", -1), ("reserve", "granted", -1),
                            ("reserve", "bought", -1)]  # fmt: skip

        mark = len(tg.calls)
        tg.user_command(USER, USER, "balance")
        shown = await wait_message(tg, USER, "Your credits", after=mark)
        assert "Bought: 9 (never expire)" in shown.params["text"]
        assert "today's free credits, granted, bought" in shown.params["text"]
        assert "Top up" in str(shown.params["reply_markup"])


async def test_pre_checkout_refuses_a_pack_the_operator_changed(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot(CREDIT_PACKS="10:50"):
        await request_invoice(tg, await open_packs(tg), "10 credits")
    async with start_bot(CREDIT_PACKS="10:60") as runtime:  # the price went up meanwhile
        answer = await pay(tg, invoice_message_id(tg))
        assert answer.params["ok"] in (False, "false", "False")
        assert "offer has changed" in answer.params["error_message"]
        await bot_idle(tg, runtime)
        assert tg.payments.charges == {}
        assert [r for r in await ledger_rows(runtime) if r[0] == "purchase"] == []


async def test_pre_checkout_refuses_a_banned_user_and_another_users_invoice(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot(ADMIN_USER_IDS=str(ADMIN)) as runtime:
        await request_invoice(tg, await open_packs(tg), "10 credits")
        invoice = invoice_message_id(tg)

        # Someone else pays this user's invoice (a forwarded invoice): not theirs.
        tg.world.chat(USER, "private", tg.world.user(OTHER_USER, "Bob", "en"), forum=False)
        answer = await pay(tg, invoice, user=OTHER_USER)
        assert answer.params["ok"] in (False, "false", "False")
        assert "does not belong to your account" in answer.params["error_message"]

        mark = len(tg.calls)
        tg.user_command(ADMIN, ADMIN, "ban", str(USER))
        await wait_message(tg, ADMIN, "banned", after=mark)
        answer = await pay(tg, invoice)
        assert answer.params["ok"] in (False, "false", "False")
        assert "not available for this account" in answer.params["error_message"]
        await bot_idle(tg, runtime)
        assert tg.payments.charges == {}
        assert [r for r in await ledger_rows(runtime) if r[0] == "purchase"] == []


async def test_the_same_successful_payment_twice_credits_once(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot(DAILY_QUOTA="0") as runtime:
        await buy(tg)
        (update,) = tg.payments.payment_updates
        duplicate = {k: v for k, v in update.items() if k != "update_id"}
        tg.push_update(duplicate)  # Telegram delivering it again, under a new update id
        tg.push_update(duplicate)
        await bot_idle(tg, runtime)
        rows = await ledger_rows(runtime)
        assert sorted(rows) == [("allowance", "daily", 0), ("purchase", "bought", 10)]
        assert len(texts_to(tg, USER, "Payment received")) == 1


async def test_buy_in_a_group_answers_with_a_button_to_the_private_chat(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        mark = len(tg.calls)
        tg.user_command(GROUP, USER, "buy", mention=True, chat_type="supergroup")
        answer = await wait_message(tg, GROUP, "private chat", after=mark)
        link = button(answer.params["reply_markup"], "Buy in a private chat")
        assert link["url"] == "https://t.me/photo2video_bot?start=buy"
        # The deep link sends "/start buy" in the private chat: the packs appear there.
        tg.user_command(USER, USER, "start", "buy")
        await wait_message(tg, USER, "Pick a pack", after=mark)
        await bot_idle(tg, runtime)
        assert tg.calls_of("sendInvoice") == []
        assert all(c.params["chat_id"] != GROUP for c in tg.calls_of("sendInvoice"))


async def test_russian_texts_all_the_way(tg: FakeBotApi, start_bot: BotFactory) -> None:
    async with start_bot():
        await open_packs(tg, language_code="ru")
        packs = tg.bot_messages(USER)[-1]
        assert "Пополнение через Telegram Stars" in packs["text"]
        labels = [b["text"] for row in packs["reply_markup"]["inline_keyboard"] for b in row]
        assert labels[0] == "10 кредитов · 50 ⭐"
        invoice = await request_invoice(tg, int(packs["message_id"]), "10 кредитов")
        assert invoice.params["title"] == "10 кредитов"
        assert "не сгорают" in invoice.params["description"]
        mark = len(tg.calls)
        await pay(tg, invoice_message_id(tg))
        done = await wait_message(tg, USER, "Оплата получена", after=mark)
        assert "+10 кредитов" in done.params["text"]
        tg.user_command(USER, USER, "terms", language_code="ru")
        await wait_message(tg, USER, "Условия", after=mark)


async def test_the_no_credit_message_names_the_cheapest_choice_still_covered(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot(DAILY_QUOTA="2"):
        _, msg_id = await open_options(tg)
        await choose(tg, msg_id, "10 s")
        await choose(tg, msg_id, "720p")  # 3 credits, 2 on the balance
        await press(tg, USER, USER, msg_id, "Generate")
        text = await wait_text(tg, msg_id, "Not enough credits")
        assert "Your 2 credits still cover Grok Imagine · " in text
        assert "6 s · SD 480p (1 credit)" in text  # issue 14 names the quality "SD 480p"


async def test_with_packs_off_there_is_no_top_up(tg: FakeBotApi, start_bot: BotFactory) -> None:
    async with start_bot(DAILY_QUOTA="0", CREDIT_PACKS="off") as runtime:
        _, msg_id = await open_options(tg)
        await press(tg, USER, USER, msg_id, "Generate")
        text = await wait_text(tg, msg_id, "Not enough credits")
        assert "Telegram Stars" not in text and "Top up" not in markup_of(tg, msg_id)
        mark = len(tg.calls)
        tg.user_command(USER, USER, "buy")
        await wait_message(tg, USER, "not available", after=mark)
        tg.user_command(USER, USER, "balance")
        shown = await wait_message(tg, USER, "Your credits", after=mark)
        assert "reply_markup" not in shown.params
        await bot_idle(tg, runtime)
        assert tg.calls_of("sendInvoice") == []


async def test_in_a_group_top_up_is_a_link_to_the_private_chat(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot(DAILY_QUOTA="0") as runtime:
        photo = tg.user_photo(GROUP, USER, make_sample_photo(), "/video waves", chat_type="group")
        options = await tg.wait_call(
            "sendMessage",
            lambda c: (
                c.params["chat_id"] == GROUP
                and (c.params.get("reply_parameters") or {}).get("message_id")
                == photo["message_id"]
            ),
        )
        msg_id = options_message_id(tg, GROUP, options)
        await press(tg, GROUP, USER, msg_id, "Generate")
        await wait_text(tg, msg_id, "Not enough credits", chat_id=GROUP)
        top_up = button(tg.message(GROUP, msg_id)["reply_markup"], "Top up")  # type: ignore[index]
        assert top_up == {"text": "⭐ Top up", "url": "https://t.me/photo2video_bot?start=buy"}
        await bot_idle(tg, runtime)
        assert tg.calls_of("sendInvoice") == []


async def test_copies_of_a_payment_handled_at_once_tell_the_buyer_once(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot(DAILY_QUOTA="0") as runtime:
        await request_invoice(tg, await open_packs(tg), "10 credits")
        query_id = tg.user_pay(USER, USER, invoice_message_id(tg))
        await tg.wait_until(lambda: bool(tg.payments.payment_updates))
        (update,) = tg.payments.payment_updates
        for _ in range(3):  # queued beside the original: one getUpdates batch, handled at once
            tg.push_update({k: v for k, v in update.items() if k != "update_id"})
        await bot_idle(tg, runtime)
        assert any(a[0] == query_id and a[1] for a in tg.payments.answers)
        rows = await ledger_rows(runtime)
        assert sorted(rows) == [("allowance", "daily", 0), ("purchase", "bought", 10)]
        assert len(texts_to(tg, USER, "Payment received")) == 1
