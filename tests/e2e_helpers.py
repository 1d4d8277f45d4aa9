"""Small helpers the end-to-end tests share: find buttons, press them, wait for the video."""

from __future__ import annotations

from typing import Any

from bot.testing.bot_api import FakeBotApi
from bot.testing.bot_api.wire import Call
from bot.testing.sample_media import make_sample_photo

Json = dict[str, Any]


def buttons(markup: Json | None) -> list[Json]:
    if not markup:
        return []
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def button(markup: Json | None, text_part: str) -> Json:
    for b in buttons(markup):
        if text_part.lower() in b["text"].lower():
            return b
    raise AssertionError(f"no button containing {text_part!r} in {buttons(markup)}")


def is_options_message(call: Call) -> bool:
    return any("generate" in b["text"].lower() for b in buttons(call.params.get("reply_markup")))


async def send_photo_and_get_options(
    tg: FakeBotApi, user: int, caption: str | None = "a cat turns its head", **kw: Any
) -> tuple[Json, Call]:
    """The user sends a photo; returns (photo message, the bot's options message call)."""
    photo = tg.user_photo(user, user, make_sample_photo(640, 480), caption, **kw)
    call = await tg.wait_call(
        "sendMessage",
        lambda c: (
            c.status == 200
            and c.params["chat_id"] == photo["chat"]["id"]
            and (c.params.get("reply_parameters") or {}).get("message_id") == photo["message_id"]
            and is_options_message(c)
        ),
    )
    return photo, call


def options_message_id(tg: FakeBotApi, chat_id: int, call: Call) -> int:
    """The message id the fake gave the options message (the reply to the photo, with Generate)."""
    photo_id = call.params["reply_parameters"]["message_id"]
    for msg in reversed(tg.bot_messages(chat_id)):
        replied = (msg.get("reply_to_message") or {}).get("message_id")
        labels = [b["text"] for b in buttons(msg.get("reply_markup"))]
        if replied == photo_id and any("Generate" in label for label in labels):
            return int(msg["message_id"])
    raise AssertionError("options message not found")


async def press(tg: FakeBotApi, chat_id: int, user: int, message_id: int, text_part: str) -> str:
    """Press the button whose label contains `text_part` on the message's current keyboard."""
    msg = tg.message(chat_id, message_id)
    assert msg is not None
    data = button(msg.get("reply_markup"), text_part)["callback_data"]
    query_id = tg.user_click(chat_id, user, message_id, data)
    await tg.wait_until(lambda: query_id in tg.answered_callbacks)
    return query_id
