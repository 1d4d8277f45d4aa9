"""The whole flow against the fakes: photo → options → Generate → evolink → video reply."""

from __future__ import annotations

from bot.runtime import BotRuntime
from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from tests.conftest import TOKEN, USER, BotFactory
from tests.e2e_helpers import options_message_id, press, send_photo_and_get_options


async def ledger_kinds(runtime: BotRuntime, user: int) -> list[str]:
    assert runtime.ctx is not None
    return [str(r["kind"]) for r in await runtime.ctx.ledger.rows(user)]


async def test_happy_path_polling_mode(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        photo, options = await send_photo_and_get_options(tg, USER, "a cat <b>turns</b> its head")
        assert options.params["reply_parameters"]["message_id"] == photo["message_id"]
        msg_id = options_message_id(tg, USER, options)
        await press(tg, USER, USER, msg_id, "10 s")
        edited = await tg.wait_call("editMessageText", lambda c: c.params["message_id"] == msg_id)
        assert "✅ 10 s" in str(edited.params["reply_markup"])
        await press(tg, USER, USER, msg_id, "Generate")

        create = await evolink.wait_request("/v1/videos/generations")
        body = create.json
        assert body["model"] == "grok-imagine-image-to-video"
        assert body["duration"] == 10 and body["mode"] == "normal" and body["quality"] == "480p"
        assert body["prompt"] == "a cat <b>turns</b> its head"
        assert body["image_urls"][0].startswith(f"http://127.0.0.1:{runtime.port}/media/")
        assert "/callbacks/evolink/" in body["callback_url"]
        task = await evolink.wait_task()
        check = evolink.image_checks[-1]
        assert check.ok and check.content_type == "image/jpeg"
        evolink.succeed(task.id)
        video = await tg.wait_call("sendVideo", timeout=20)
        assert video.params["reply_parameters"]["message_id"] == photo["message_id"]
        assert video.params["supports_streaming"] is True
        assert video.params["width"] > 0 and video.params["height"] > 0
        assert "a cat &lt;b&gt;turns&lt;/b&gt; its head" in video.params["caption"]
        assert len(video.params["caption"]) <= 1024
        assert "video" in video.files
        # the status message ends as "Done"
        await tg.wait_until(lambda: "Done" in (tg.message(USER, msg_id) or {}).get("text", ""))
        assert await ledger_kinds(runtime, USER) == ["allowance", "reserve", "settle"]
        for recorded in evolink.requests:
            assert TOKEN not in recorded.path + recorded.text + str(recorded.headers)
