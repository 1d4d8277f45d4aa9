"""Simulated Telegram users: the messages and button clicks they send, queued as updates."""

from __future__ import annotations

import copy
import mimetypes

from bot.testing.bot_api.callbacks import CallbackQueries
from bot.testing.bot_api.compose import auto_entities
from bot.testing.bot_api.payments import PaymentMethods
from bot.testing.bot_api.store import World, now
from bot.testing.bot_api.updates import UpdateQueue
from bot.testing.bot_api.wire import Json

_FORWARDED_FROM = "Bob Forwarder"


class SimulatedUsers:
    """The user side of the fake; each method returns what Telegram would deliver to the bot."""

    world: World
    updates: UpdateQueue
    callback_queries: CallbackQueries
    _payment_methods: PaymentMethods

    def user_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        reply_to: int | None = None,
        chat_type: str = "private",
        thread_id: int | None = None,
        language_code: str = "en",
        first_name: str = "Alice",
        forward: bool = False,
    ) -> Json:
        """A text message; commands, @mentions and URLs get their entities like on Telegram."""
        message = self._user_message(
            chat_id, user_id, chat_type, thread_id, reply_to, language_code, first_name, forward
        )
        message["text"] = text
        _add_entities(message, "entities", text)
        return self._deliver(chat_id, message)

    def user_command(
        self,
        chat_id: int,
        user_id: int,
        command: str,
        args: str = "",
        *,
        mention: bool = False,
        chat_type: str = "private",
        thread_id: int | None = None,
        language_code: str = "en",
        first_name: str = "Alice",
    ) -> Json:
        """ "/command args" (as "/command@bot" when `mention`), with its bot_command entity."""
        text = "/" + command.lstrip("/") + (f"@{self.world.bot_username}" if mention else "")
        text += f" {args}" if args else ""
        return self.user_text(
            chat_id,
            user_id,
            text,
            chat_type=chat_type,
            thread_id=thread_id,
            language_code=language_code,
            first_name=first_name,
        )

    def user_photo(
        self,
        chat_id: int,
        user_id: int,
        image: bytes,
        caption: str | None = None,
        *,
        reply_to: int | None = None,
        chat_type: str = "private",
        thread_id: int | None = None,
        media_group_id: str | None = None,
        forward: bool = False,
        language_code: str = "en",
        first_name: str = "Alice",
    ) -> Json:
        """A photo: JPEG sizes downscaled from `image`, each downloadable, largest last."""
        sizes = self.world.photo_sizes(image)  # ValueError when `image` is not a picture
        message = self._user_message(
            chat_id, user_id, chat_type, thread_id, reply_to, language_code, first_name, forward
        )
        message["photo"] = sizes
        return self._with_caption(chat_id, message, caption, media_group_id)

    def user_document(
        self,
        chat_id: int,
        user_id: int,
        data: bytes,
        file_name: str,
        mime_type: str,
        caption: str | None = None,
        *,
        reply_to: int | None = None,
        chat_type: str = "private",
        thread_id: int | None = None,
        media_group_id: str | None = None,
        forward: bool = False,
        language_code: str = "en",
        first_name: str = "Alice",
    ) -> Json:
        """A file sent as a document (e.g. an uncompressed photo), with a thumbnail for images."""
        ext = (mimetypes.guess_extension(mime_type) or ".bin").lstrip(".")
        stored = self.world.add_file(data, "document", ext)
        document: Json = {
            "file_name": file_name,
            "mime_type": mime_type,
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(data),
        }
        thumbnail = self.world.thumbnail(data) if mime_type.startswith("image/") else None
        if thumbnail is not None:
            document["thumbnail"] = thumbnail
        stored.meta = document
        message = self._user_message(
            chat_id, user_id, chat_type, thread_id, reply_to, language_code, first_name, forward
        )
        message["document"] = copy.deepcopy(document)
        return self._with_caption(chat_id, message, caption, media_group_id)

    def user_click(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        data: str,
        *,
        first_name: str = "Alice",
        language_code: str = "en",
        force: bool = False,
    ) -> str:
        """Press an inline button of a bot message; returns the callback_query id.

        Only buttons the message currently shows can be pressed, unless `force` (a stale client).
        """
        message = self.world.get_message(chat_id, message_id)
        if message is None or message.get("from", {}).get("id") != self.world.bot_id:
            raise ValueError(f"no bot message {message_id} in chat {chat_id}")
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        shown = {button.get("callback_data") for row in rows for button in row}
        if not force and data not in shown:
            raise ValueError(f"message {message_id} shows no button with data {data!r}")
        known = self.world.users.get(user_id, {})
        user = self.world.user(
            user_id, known.get("first_name", first_name), known.get("language_code", language_code)
        )
        self.world.members.setdefault(chat_id, set()).add(user_id)
        query_id = self.callback_queries.open()
        query: Json = {
            "id": query_id,
            "from": user,
            "message": copy.deepcopy(message),
            "chat_instance": self.world.chat_instances[chat_id],
            "data": data,
        }
        self.updates.push({"callback_query": query})
        return query_id

    def user_pay(self, chat_id: int, user_id: int, message_id: int) -> str:
        """Press Pay on an invoice: a pre_checkout_query goes to the bot (returns its id); the
        successful_payment message follows only if the bot answers ok in time."""
        known = self.world.users.get(user_id) or self.world.user(user_id, "Alice", "en")
        return self._payment_methods.pay(chat_id, dict(known), message_id)

    def push_update(self, update: Json) -> Json:
        """Queue a raw update as is (duplicates, garbage); gets an update_id if it has none."""
        return self.updates.push(copy.deepcopy(update))

    def _user_message(
        self,
        chat_id: int,
        user_id: int,
        chat_type: str,
        thread_id: int | None,
        reply_to: int | None,
        language_code: str,
        first_name: str,
        forward: bool,
    ) -> Json:
        if chat_type == "private" and chat_id <= 0:
            raise ValueError("private chats have positive ids")
        user = self.world.user(user_id, first_name, language_code)
        chat = self.world.chat(chat_id, chat_type, user, forum=thread_id is not None)
        message: Json = {"from": user, "date": now()}
        target = None
        if reply_to is not None:
            target = self.world.get_message(chat_id, reply_to)
            if target is None:
                raise ValueError(f"no message {reply_to} in chat {chat_id} to reply to")
        if thread_id is not None:
            root = self.world.topic_root(chat, thread_id, user)
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
            target = target or root
        if target is not None:
            message["reply_to_message"] = self.world.as_reply(chat_id, target["message_id"])
            _reply_thread(chat, message, target)
        if forward:
            origin = {"type": "hidden_user", "sender_user_name": _FORWARDED_FROM}
            message["forward_origin"] = {**origin, "date": now() - 3600}
        return message

    def _with_caption(
        self, chat_id: int, message: Json, caption: str | None, media_group_id: str | None
    ) -> Json:
        if caption:
            message["caption"] = caption
            _add_entities(message, "caption_entities", caption)
        if media_group_id is not None:
            message["media_group_id"] = media_group_id
        return self._deliver(chat_id, message)

    def _deliver(self, chat_id: int, message: Json) -> Json:
        stored = self.world.add_message(self.world.chats[chat_id], message)
        self.updates.push({"message": copy.deepcopy(stored)})
        return copy.deepcopy(stored)


def _add_entities(message: Json, key: str, text: str) -> None:
    entities = auto_entities(text)
    if entities:
        message[key] = entities


def _reply_thread(chat: Json, message: Json, target: Json) -> None:
    """In a supergroup without topics a reply belongs to the reply thread of its root message:
    Telegram sets message_thread_id, but not is_topic_message (it is no forum topic)."""
    if chat.get("type") == "supergroup" and not chat.get("is_forum"):
        message["message_thread_id"] = target.get("message_thread_id") or target["message_id"]
