"""Status edits are paced: one per window, the newest text wins, forced edits go out at once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from bot.telegram.messenger import Target, TelegramMessenger
from bot.testing.bot_api import FakeBotApi
from tests.conftest import TOKEN

CHAT = 77


@pytest.fixture(name="bot")
async def _bot(tg: FakeBotApi) -> AsyncIterator[Bot]:
    tg.user_text(CHAT, CHAT, "hi")  # the chat exists
    bot = Bot(TOKEN, base_url=f"{tg.base_url}/bot", base_file_url=f"{tg.base_url}/file/bot")
    async with bot:
        yield bot


def edits(tg: FakeBotApi) -> list[str]:
    return [c.params["text"] for c in tg.calls_of("editMessageText")]


async def test_edits_inside_the_window_wait_and_merge_forced_ones_do_not(
    tg: FakeBotApi, bot: Bot
) -> None:
    now = [1000.0]
    messenger = TelegramMessenger(bot, min_edit_interval=3600, clock=lambda: now[0])
    message_id = await messenger.send_text(Target(CHAT), "options")
    assert message_id is not None
    assert await messenger.edit(CHAT, message_id, "queued", force=False)  # first: at once
    assert not await messenger.edit(CHAT, message_id, "generating 10%", force=False)
    assert not await messenger.edit(CHAT, message_id, "generating 20%", force=False)
    assert edits(tg) == ["queued"]  # the window is closed: both wait, merged into one
    assert await messenger.edit(CHAT, message_id, "done", force=True)
    assert edits(tg) == ["queued", "done"]  # forced: at once, and the waiting one is dropped
    messenger.forget(CHAT, message_id)
    assert not messenger._timers and not messenger._pending
    now[0] += 7200  # a new window: an unchanged text is still never sent
    assert (
        not await messenger.edit(CHAT, message_id, "done", force=False) or edits(tg)[-1] == "done"
    )


async def test_a_waiting_edit_goes_out_with_the_newest_text_when_the_window_opens(
    tg: FakeBotApi, bot: Bot
) -> None:
    messenger = TelegramMessenger(bot, min_edit_interval=0.2)
    message_id = await messenger.send_text(Target(CHAT), "options")
    assert message_id is not None
    await messenger.edit(CHAT, message_id, "queued", force=False)
    for pct in range(10, 60, 10):
        await messenger.edit(CHAT, message_id, f"generating {pct}%", force=False)
    await tg.wait_until(lambda: len(edits(tg)) == 2)
    assert edits(tg) == ["queued", "generating 50%"]
    calls = tg.calls_of("editMessageText")
    assert calls[1].at - calls[0].at >= 0.15  # paced (a lower bound only: never flaky)
