"""Bursts in one chat against Telegram's per-chat flood limit (a burst, then about one a second).

Every button press edits the options message at once; pressing faster than Telegram allows gets
429s, which PTB waits out (`retry_after`) and retries: no press is lost, the message ends on the
last choice and every press is answered. The fake's clock stands still except when the test
moves it past a flood wait, so how many calls Telegram refuses does not depend on the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from bot.testing.bot_api import FakeBotApi, FloodLimits, ManualClock
from bot.testing.providers.evolink import EvolinkFake
from tests.conftest import TOKEN, USER, BotFactory
from tests.e2e_helpers import button, options_message_id, send_photo_and_get_options
from tests.idle_barrier import wait_idle


@pytest.fixture(name="clock")
def _clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(name="tg")
async def _tg(clock: ManualClock) -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi(TOKEN, clock=clock)
    await fake.start()
    yield fake
    await fake.stop()


async def _time_passes_on_flood_waits(tg: FakeBotApi, clock: ManualClock) -> None:
    """While PTB sleeps out a 429, Telegram's clock moves by exactly its retry_after."""
    flood = tg.flood
    assert flood is not None
    seen = 0
    while True:
        await tg.wait_until(lambda n=seen: len(flood.refused) > n, timeout=3600)
        new, seen = flood.refused[seen:], len(flood.refused)
        clock.advance(max(retry_after for _, _, retry_after in new))


async def test_a_burst_of_presses_in_one_chat_is_paced_not_lost(
    tg: FakeBotApi, clock: ManualClock, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        _, options = await send_photo_and_get_options(tg, USER, "waves")
        msg_id = options_message_id(tg, USER, options)
        markup = (tg.message(USER, msg_id) or {}).get("reply_markup")
        ten, six = (button(markup, label)["callback_data"] for label in ("10 s", "6 s"))
        clock_task = asyncio.create_task(_time_passes_on_flood_waits(tg, clock))
        try:
            presses = int(FloodLimits().chat_burst) + 1  # more than one chat's burst
            queries = []
            for n in range(presses):
                queries.append(tg.user_click(USER, USER, msg_id, six if n % 2 else ten))
                # the next press is made on what the user sees now
                await tg.wait_until(lambda q=queries[-1]: q in tg.answered_callbacks)
            await wait_idle(tg, runtime, evolink, timeout=60)
        finally:
            clock_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await clock_task
        assert tg.flood is not None and tg.flood.refused  # Telegram's limit was reached…
        assert set(queries) == tg.answered_callbacks  # …yet every press was answered
        assert "✅ 10 s" in str((tg.message(USER, msg_id) or {}).get("reply_markup"))
        edits = [c for c in tg.calls_of("editMessageText") if c.params["message_id"] == msg_id]
        assert edits[-1].status == 200 and "✅ 10 s" in str(edits[-1].params["reply_markup"])
