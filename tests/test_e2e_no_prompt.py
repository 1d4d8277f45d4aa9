"""A photo without a caption on a model whose prompt is optional: Generate works without one."""

from __future__ import annotations

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import buttons, options_message_id, press, send_photo_and_get_options


async def test_happyhorse_generates_without_a_prompt_from_the_one_paying_button(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot():
        _, options = await send_photo_and_get_options(tg, USER, None)
        ask = await tg.wait_call("sendMessage", lambda c: "force_reply" in str(c.params))
        assert "prompt" in ask.params["text"].lower() or "video" in ask.params["text"].lower()
        msg_id = options_message_id(tg, USER, options)
        await press(tg, USER, USER, msg_id, "HappyHorse")
        await tg.wait_until(
            lambda: "the model decides" in (tg.message(USER, msg_id) or {}).get("text", "")
        )
        labels = [b["text"] for b in buttons((tg.message(USER, msg_id) or {})["reply_markup"])]
        assert [label for label in labels if "credit" in label] == ["▶️ Generate · 2 credits"]
        await press(tg, USER, USER, msg_id, "Generate")
        create = await evolink.wait_request("/v1/videos/generations")
        assert create.json["model"] == "happyhorse-1.0-image-to-video"
        assert "prompt" not in create.json
        assert create.json["duration"] == 5 and create.json["quality"] == "720p"


async def test_a_plain_text_after_the_prompt_question_becomes_the_prompt(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot():
        _, options = await send_photo_and_get_options(tg, USER, None)
        await tg.wait_call("sendMessage", lambda c: "force_reply" in str(c.params))
        msg_id = options_message_id(tg, USER, options)
        tg.user_text(USER, USER, "the dog <wags> its tail")  # not a reply: the question was closed
        await tg.wait_until(lambda: "wags" in (tg.message(USER, msg_id) or {}).get("text", ""))
        await press(tg, USER, USER, msg_id, "Generate")
        create = await evolink.wait_request("/v1/videos/generations")
        assert create.json["prompt"] == "the dog <wags> its tail"
        tg.user_text(USER, USER, "hello again")  # no draft waits for a prompt now
        hint = await tg.wait_call("sendMessage", lambda c: "photo" in c.params["text"].lower())
        assert "send me" in hint.params["text"].lower()
