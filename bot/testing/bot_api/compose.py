"""Composing a bot message: chat, reply, topic, keyboard, and text as Telegram stores it."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from bot.testing.bot_api.html import parse_html, utf16_len
from bot.testing.bot_api.store import World, now
from bot.testing.bot_api.wire import Json, UploadedFile, bad_request

Handler = Callable[[Json, dict[str, UploadedFile]], Awaitable[Any]]
MAX_TEXT = 4096
MAX_CAPTION = 1024

# What Telegram finds by itself in any message text (a subset: commands, mentions, tags, URLs).
_AUTO = re.compile(
    r"(?P<bot_command>(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?)"
    r"|(?P<mention>(?<![\w@])@[A-Za-z0-9_]{5,32})"
    r"|(?P<hashtag>(?<![\w#])#\w*[^\W\d]\w*)"
    r"|(?P<url>https?://[^\s<>\"]*[^\s<>\".,;:!?)\]'])"
)


def auto_entities(text: str, existing: list[Json] | None = None) -> list[Json]:
    """Entities Telegram detects itself, skipping spans already covered by code, pre or links."""
    covered = [
        (e["offset"], e["offset"] + e["length"])
        for e in existing or []
        if e.get("type") in ("code", "pre", "text_link")
    ]
    found: list[Json] = []
    for match in _AUTO.finditer(text):
        kind = match.lastgroup or "url"
        start = utf16_len(text[: match.start()])
        length = utf16_len(match.group())
        if any(start < end and begin < start + length for begin, end in covered):
            continue
        found.append({"type": kind, "offset": start, "length": length})
    return found


def render(
    text: str, parse_mode: str | None, entities: list[Json] | None
) -> tuple[str, list[Json]]:
    """The stored (text, entities) for what the bot sent; explicit entities win over parse_mode."""
    if entities:
        plain, parsed = text, [dict(e) for e in entities]
    else:
        mode = (parse_mode or "").lower()
        if mode == "html":
            plain, parsed = parse_html(text)
        elif mode in ("", "markdown", "markdownv2"):
            # Markdown is not rendered: the text is kept as sent (the bot uses HTML).
            plain, parsed = text, []
        else:
            raise bad_request("unsupported parse_mode")
    merged = parsed + auto_entities(plain, parsed)
    merged.sort(key=lambda e: (e["offset"], -e["length"]))
    return plain, merged


def inline_markup(markup: Any, *, edit: bool = False) -> Json | None:
    """The reply_markup a Message carries: only inline keyboards ever appear in one."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        if edit:
            raise bad_request("inline keyboard expected")
        if any(key in markup for key in ("force_reply", "keyboard", "remove_keyboard")):
            return None  # applies to the user's client; Telegram does not echo it
        raise bad_request("can't parse reply keyboard markup JSON object")
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('can\'t parse inline keyboard button: field "inline_keyboard" is wrong')
    for button in (button for row in rows for button in row):
        _check_button(button)
    rows = [row for row in rows if row]
    return {"inline_keyboard": rows} if rows else None


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    if not set(button) - {"text", "style", "icon_custom_emoji_id"}:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    data = button.get("callback_data")
    if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
        raise bad_request("BUTTON_DATA_INVALID")
    url = button.get("url")
    if url is not None and not str(url).startswith(("http://", "https://", "tg://")):
        raise bad_request("BUTTON_URL_INVALID")


def new_bot_message(world: World, params: Json) -> tuple[Json, Json]:
    """Chat and common fields of a message the bot sends: from, date, topic, reply and markup."""
    chat = world.require_chat(params.get("chat_id"))
    world.require_reachable(chat)
    message: Json = {"from": world.bot_user, "date": now()}
    reply = params.get("reply_parameters")
    reply_id = reply.get("message_id") if isinstance(reply, dict) else None
    reply_id = reply_id or params.get("reply_to_message_id")
    allow = params.get("allow_sending_without_reply") or (
        isinstance(reply, dict) and bool(reply.get("allow_sending_without_reply"))
    )
    target = world.get_message(chat["id"], reply_id) if reply_id else None
    if reply_id and target is None and not allow:
        raise bad_request("message to be replied not found")
    thread_id = params.get("message_thread_id")
    if not thread_id and target is not None and target.get("is_topic_message"):
        thread_id = target.get("message_thread_id")
    if thread_id:
        root = world.get_message(chat["id"], thread_id)
        if not chat.get("is_forum") or root is None or "forum_topic_created" not in root:
            raise bad_request("message thread not found")
        world.require_open_topic(chat, thread_id)
        message["message_thread_id"] = thread_id
        message["is_topic_message"] = True
        target = target or root  # in a topic, Telegram quotes the topic's service message
    if target is not None:
        message["reply_to_message"] = world.as_reply(chat["id"], target["message_id"])
        if chat.get("type") == "supergroup" and not chat.get("is_forum"):
            # A reply joins the reply thread of its root (no forum topic: no is_topic_message).
            message["message_thread_id"] = target.get("message_thread_id") or target["message_id"]
    markup = inline_markup(params.get("reply_markup"))
    if markup:
        message["reply_markup"] = markup
    if params.get("protect_content"):
        message["has_protected_content"] = True
    return chat, message


def formatted(params: Json, key: str, entities_key: str) -> tuple[str, list[Json]]:
    """(plain text, entities) for a text or caption parameter."""
    entities = params.get(entities_key)
    return render(str(params.get(key) or ""), params.get("parse_mode"), entities or None)


def set_formatted(message: Json, key: str, text: str, entities: list[Json]) -> None:
    """Store text/caption and its entities, omitting empty fields as Telegram does."""
    entities_key = "entities" if key == "text" else "caption_entities"
    message.pop(key, None)
    message.pop(entities_key, None)
    if text:
        message[key] = text
    if entities:
        message[entities_key] = entities
