"""Refunds of Stars purchases: the admin's /refund (unspent, spent, confirmed), Telegram's own
refunds, and what the operator sees (/stats, /metrics)."""

from __future__ import annotations

import aiohttp

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import press
from tests.lifecycle_support import open_options
from tests.payments_support import bot_idle, buy, ledger_rows, texts_to, wait_message

ADMIN = 1003


def purchase_rows(rows: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    return [r for r in rows if r[0].startswith("purchase")]


async def test_refund_of_unspent_credits_takes_them_back_once(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot(ADMIN_USER_IDS=str(ADMIN), DAILY_QUOTA="0") as runtime:
        charge = await buy(tg)
        mark = len(tg.calls)
        tg.user_command(ADMIN, ADMIN, "refund", charge)
        await wait_message(tg, ADMIN, "Refunded 50 ⭐", after=mark)
        (call,) = tg.calls_of("refundStarPayment")
        assert call.params == {"user_id": USER, "telegram_payment_charge_id": charge}
        await wait_message(tg, USER, "was refunded", after=mark)
        # Telegram's refunded_payment message about the same refund arrives too: no second row.
        await bot_idle(tg, runtime)
        assert purchase_rows(await ledger_rows(runtime)) == [
            ("purchase", "bought", 10),
            ("purchase_refund", "bought", -10),
        ]
        assert len(texts_to(tg, USER, "was refunded")) == 1
        assert runtime.ctx is not None
        assert (await runtime.ctx.ledger.balance(USER)).total == 0

        # A second /refund is refused without calling Telegram again.
        tg.user_command(ADMIN, ADMIN, "refund", charge)
        await wait_message(tg, ADMIN, "was refunded already", after=mark)
        assert len(tg.calls_of("refundStarPayment")) == 1

        # The operator's view.
        tg.user_command(ADMIN, ADMIN, "stats")
        stats = await wait_message(tg, ADMIN, "Telegram Stars", after=mark)
        assert "received 50 ⭐, refunded 50 ⭐, credits sold 10" in stats.params["text"]
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{runtime.port}/metrics") as response,
        ):
            metrics = await response.text()
        assert "p2v_purchases_total 1.0" in metrics
        assert "p2v_purchase_stars_total 50.0" in metrics
        assert "p2v_refunded_stars_total 50.0" in metrics


async def test_refund_of_spent_credits_needs_the_admins_confirmation(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot(ADMIN_USER_IDS=str(ADMIN), DAILY_QUOTA="0") as runtime:
        charge = await buy(tg)
        _, msg_id = await open_options(tg)
        await press(tg, USER, USER, msg_id, "Generate")  # 1 of the 10 bought credits spent
        await evolink.wait_task()

        mark = len(tg.calls)
        tg.user_command(ADMIN, ADMIN, "refund", charge)
        refused = await wait_message(tg, ADMIN, "has only 9 bought credit(s) left", after=mark)
        assert f"/refund {charge} confirm" in refused.params["text"]
        assert tg.calls_of("refundStarPayment") == []
        assert purchase_rows(await ledger_rows(runtime)) == [("purchase", "bought", 10)]

        tg.user_command(ADMIN, ADMIN, "refund", f"{charge} confirm")
        await wait_message(tg, ADMIN, "Refunded 50 ⭐", after=mark)
        await bot_idle(tg, runtime)
        assert len(tg.calls_of("refundStarPayment")) == 1
        assert purchase_rows(await ledger_rows(runtime)) == [
            ("purchase", "bought", 10),
            ("purchase_refund", "bought", -9),
        ]
        assert runtime.ctx is not None
        assert (await runtime.ctx.ledger.balance(USER)).bought == 0


async def test_a_refund_made_by_telegram_is_recorded(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot(DAILY_QUOTA="0") as runtime:
        charge = await buy(tg)
        mark = len(tg.calls)
        tg.telegram_refund(charge)  # e.g. Telegram's support refunded the buyer
        told = await wait_message(tg, USER, "was refunded", after=mark)
        assert "10 credits taken back" in told.params["text"]
        await bot_idle(tg, runtime)
        assert purchase_rows(await ledger_rows(runtime))[-1] == ("purchase_refund", "bought", -10)


async def test_refund_is_an_admin_command_and_checks_its_arguments(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot(ADMIN_USER_IDS=str(ADMIN)):
        mark = len(tg.calls)
        tg.user_command(USER, USER, "refund", "stxWhatever")
        await wait_message(tg, USER, "don't know that command", after=mark)
        tg.user_command(ADMIN, ADMIN, "refund", "stxNoSuchCharge")
        await wait_message(tg, ADMIN, "No payment with charge id stxNoSuchCharge", after=mark)
        tg.user_command(ADMIN, ADMIN, "refund", "a b c")
        await wait_message(tg, ADMIN, "Usage: /refund", after=mark)
        assert tg.calls_of("refundStarPayment") == []
