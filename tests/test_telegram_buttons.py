"""A button press is answered at once, and its work runs whatever happens to the answer.

Telegram refuses an answer that comes too late ("query is too old ..."); the fake does the same
on its own clock, which this module moves by hand instead of sleeping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.testing.bot_api import FakeBotApi, ManualClock
from bot.testing.providers.evolink import EvolinkFake
from tests.conftest import TOKEN, USER, BotFactory
from tests.e2e_helpers import button, options_message_id, send_photo_and_get_options
from tests.idle_barrier import wait_idle
from tests.telegram_helpers import ledger_kinds, only_job


@pytest.fixture(name="clock")
def _clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(name="tg")
async def _tg(clock: ManualClock) -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi(TOKEN, clock=clock)
    await fake.start()
    yield fake
    await fake.stop()


async def test_generate_whose_answer_is_too_late_still_submits_the_job(
    tg: FakeBotApi, clock: ManualClock, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        _, options = await send_photo_and_get_options(tg, USER, "waves")
        msg_id = options_message_id(tg, USER, options)
        data = button((tg.message(USER, msg_id) or {}).get("reply_markup"), "Generate")
        query_id = tg.user_click(USER, USER, msg_id, data["callback_data"])
        clock.advance(16)  # the bot's answer will come after Telegram's answer window
        create = await evolink.wait_request("/v1/videos/generations")
        assert create.json["model"] == "grok-imagine-image-to-video"
        answer = await tg.wait_call(
            "answerCallbackQuery", lambda c: c.params["callback_query_id"] == query_id
        )
        assert answer.status == 400 and query_id in tg.callback_queries.expired
        task = await evolink.wait_task()
        evolink.succeed(task.id)
        await tg.wait_call("sendVideo", lambda c: c.status == 200, timeout=20)
        await wait_idle(tg, runtime, evolink)
        assert (await only_job(runtime, USER)).status.value == "delivered"
        assert await ledger_kinds(runtime, USER) == ["allowance", "reserve", "settle"]
        assert len(evolink.requests_to("create")) == 1


async def test_an_option_press_whose_answer_fails_still_updates_the_message(
    tg: FakeBotApi, clock: ManualClock, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        _, options = await send_photo_and_get_options(tg, USER, "waves")
        msg_id = options_message_id(tg, USER, options)
        tg.inject("answerCallbackQuery", status=400, description="Bad Request: QUERY_ID_INVALID")
        data = button((tg.message(USER, msg_id) or {}).get("reply_markup"), "10 s")
        tg.user_click(USER, USER, msg_id, data["callback_data"])
        await tg.wait_until(
            lambda: "✅ 10 s" in str((tg.message(USER, msg_id) or {}).get("reply_markup"))
        )
        await wait_idle(tg, runtime, evolink)
        assert [c.status for c in tg.calls_of("answerCallbackQuery")] == [400]
