"""Reply threads in a supergroup without topics: Telegram tags replies with message_thread_id
(no is_topic_message); the bot must not mistake that for a forum topic."""

from __future__ import annotations

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from bot.testing.sample_media import make_sample_photo
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import is_options_message
from tests.idle_barrier import wait_idle

GROUP = -1_001_800_000_001


async def test_a_video_command_in_a_reply_thread_is_answered_in_the_group(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        photo = tg.user_photo(GROUP, USER, make_sample_photo(), None, chat_type="supergroup")
        command = tg.user_text(
            GROUP, USER, "/video waves", reply_to=photo["message_id"], chat_type="supergroup"
        )
        assert command["message_thread_id"] == photo["message_id"]
        assert "is_topic_message" not in command
        options = await tg.wait_call(
            "sendMessage", lambda c: c.params["chat_id"] == GROUP and is_options_message(c)
        )
        assert options.status == 200 and "message_thread_id" not in options.params
        await wait_idle(tg, runtime, evolink)
        assert [c for c in tg.calls if c.status >= 400] == []
