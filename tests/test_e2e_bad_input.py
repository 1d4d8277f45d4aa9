"""Hostile or odd input gets a clear answer, and the bot keeps serving afterwards."""

from __future__ import annotations

import httpx

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from tests.conftest import OTHER_USER, USER, BotFactory
from tests.e2e_helpers import options_message_id, press, send_photo_and_get_options
from tests.idle_barrier import wait_idle


async def test_text_without_photo_gets_a_hint(tg: FakeBotApi, start_bot: BotFactory) -> None:
    async with start_bot():
        tg.user_text(USER, USER, "make me a video")
        reply = await tg.wait_call("sendMessage")
        assert "photo" in reply.params["text"].lower()


async def test_non_image_document_is_refused_clearly(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        tg.user_document(USER, USER, b"%PDF-1.4 not an image", "doc.pdf", "application/pdf", "go")
        reply = await tg.wait_call("sendMessage")
        assert "not an image" in reply.params["text"].lower()
        # an "image" that is not decodable either
        tg.user_document(USER, USER, b"\x89PNG garbage", "x.png", "image/png", "go")
        second = await tg.wait_call("sendMessage", lambda c: c is not reply)
        assert "could not read" in second.params["text"].lower()
        await wait_idle(tg, runtime, evolink)  # nothing more comes later
        assert evolink.requests == []
        # and the bot still serves a real photo afterwards
        await send_photo_and_get_options(tg, USER)


async def test_garbage_callback_data_is_answered_and_changes_nothing(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        _, options = await send_photo_and_get_options(tg, USER)
        msg_id = options_message_id(tg, USER, options)
        for data in ("", "garbage", "g|notanumber", "o|99999|duration|10", "x" * 64, "g|1|2|3|4"):
            query_id = tg.user_click(USER, USER, msg_id, data, force=True)
            answer = await tg.wait_call(
                "answerCallbackQuery", lambda c, q=query_id: c.params["callback_query_id"] == q
            )
            assert "expired" in answer.params.get("text", "").lower()
        await wait_idle(tg, runtime)  # nothing more comes later
        assert tg.calls_of("editMessageText") == []
        await press(tg, USER, USER, msg_id, "10 s")  # the real buttons still work


async def test_someone_elses_button_gets_an_alert(tg: FakeBotApi, start_bot: BotFactory) -> None:
    async with start_bot():
        _, options = await send_photo_and_get_options(tg, USER)
        msg_id = options_message_id(tg, USER, options)
        msg = tg.message(USER, msg_id)
        assert msg is not None
        data = msg["reply_markup"]["inline_keyboard"][-1][0]["callback_data"]
        query_id = tg.user_click(USER, OTHER_USER, msg_id, data)
        answer = await tg.wait_call(
            "answerCallbackQuery", lambda c: c.params["callback_query_id"] == query_id
        )
        assert answer.params["show_alert"] is True
        assert "only the person" in answer.params["text"].lower()


async def test_webhook_update_with_wrong_secret_is_refused(
    tg: FakeBotApi, start_bot: BotFactory, env: dict[str, str]
) -> None:
    url = f"{env['PUBLIC_BASE_URL']}/telegram/webhook"
    tg.local_mode = True  # plain http:// on a test port: a local Bot API server delivers there
    async with start_bot(
        TELEGRAM_WEBHOOK_URL=url,
        TELEGRAM_WEBHOOK_SECRET="right_secret",
        TELEGRAM_LOCAL_MODE="true",
    ) as runtime:
        url = tg.webhook_url or ""  # the configured URL plus the path token
        update = {
            "update_id": 424242,
            "message": {
                "message_id": 1, "date": 1700000000, "text": "/start",
                "chat": {"id": USER, "type": "private"},
                "from": {"id": USER, "is_bot": False, "first_name": "Mallory"},
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            },
        }  # fmt: skip
        async with httpx.AsyncClient() as client:
            wrong = await client.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}
            )
            missing = await client.post(url, json=update)
            garbage = await client.post(
                url,
                content=b"{not json",
                headers={"X-Telegram-Bot-Api-Secret-Token": "right_secret"},
            )
        assert wrong.status_code in (401, 403) and missing.status_code in (401, 403)
        assert garbage.status_code == 400
        tg.user_text(USER, USER, "hello")  # a genuine update still goes through
        await tg.wait_call("sendMessage")
        assert all("Mallory" not in str(c.params) for c in tg.calls)
        await wait_idle(tg, runtime)  # nothing more comes later
        assert len(tg.calls_of("sendMessage")) == 1


async def test_start_help_and_balance(tg: FakeBotApi, start_bot: BotFactory) -> None:
    async with start_bot():
        tg.user_command(USER, USER, "start")
        start = await tg.wait_call("sendMessage")
        assert "photo" in start.params["text"].lower()
        tg.user_command(USER, USER, "balance")
        balance = await tg.wait_call("sendMessage", lambda c: "Today:" in c.params["text"])
        assert "5 of 5" in balance.params["text"] and "new ones in" in balance.params["text"]
