"""The shared poll scheduler (issue 16): per-provider request budgets, a slower fallback poll
for providers that call back, and nothing kept per waiting job."""

from __future__ import annotations

import asyncio

from bot.jobs.poller import DEFAULT_RATE, QueryRates
from bot.jobs.runner import CALLBACK_FALLBACK_FACTOR
from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import options_message_id, press, send_photo_and_get_options
from tests.idle_barrier import bot_tasks_done


def test_query_budget_never_exceeds_the_providers_rate() -> None:
    now = [0.0]
    rates = QueryRates(clock=lambda: now[0])
    granted = {"apikley": 0, "evolink": 0}
    for step in range(1000):  # ten seconds, asked every 10 ms
        now[0] = step / 100
        for provider in granted:
            granted[provider] += rates.take(provider)
    # one second's burst, then the rate: apikley documents 20 requests per 10 s
    assert granted["apikley"] <= 2 + 2 * 10
    assert granted["evolink"] <= DEFAULT_RATE * 11
    assert granted["apikley"] >= 18, "the budget is a ceiling, not a stall"


async def test_a_callback_provider_falls_back_to_slow_polling(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    """Once the callback is late, polling is only a fallback: it backs off to 2 x POLL_MAX_S."""
    async with start_bot(CALLBACK_GRACE_S="0", POLL_INITIAL_S="0.05", POLL_MAX_S="0.1") as rt:
        _photo, options = await send_photo_and_get_options(tg, USER, "waves")
        await press(tg, USER, USER, options_message_id(tg, USER, options), "Generate")
        await evolink.wait_task()
        assert rt.ctx is not None and rt.runner is not None
        fallback = 0.1 * CALLBACK_FALLBACK_FACTOR
        while True:
            job = (await rt.ctx.store.recent_for_user(USER))[0]
            if (job.poll_interval or 0.0) >= fallback:
                break
            await asyncio.sleep(0.02)  # polling the database for a state, not synchronising
        assert job.poll_interval == fallback
        assert job.status.value == "submitted"
        task = await evolink.wait_task()
        evolink.succeed(task.id)
        await tg.wait_call("sendVideo", timeout=20)
        await bot_tasks_done(rt)
        assert rt.runner._locks == {}, "a finished job keeps no per-job lock"
