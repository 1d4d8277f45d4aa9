"""Bot API methods about text messages, keyboards, callbacks, commands and chats."""

from __future__ import annotations

import copy
import json

from bot.testing.bot_api.callbacks import CallbackQueries
from bot.testing.bot_api.compose import (
    MAX_CAPTION,
    MAX_TEXT,
    Handler,
    formatted,
    inline_markup,
    new_bot_message,
    set_formatted,
)
from bot.testing.bot_api.store import World, now
from bot.testing.bot_api.wire import Json, UploadedFile, bad_request

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
_MEDIA_KEYS = ("photo", "video", "document", "animation", "audio", "voice")
_CHAT_ACTIONS = frozenset(
    "typing upload_photo record_video upload_video record_voice upload_voice upload_document "
    "choose_sticker find_location record_video_note upload_video_note".split()
)


class MessageMethods:
    """Handlers for the non-file methods; each returns the `result` or raises ApiError."""

    def __init__(self, world: World, queries: CallbackQueries) -> None:
        self.world = world
        self.queries = queries
        self.commands: dict[tuple[str, str], list[Json]] = {}

    def handlers(self) -> dict[str, Handler]:
        """Method name -> handler."""
        return {
            "getMe": self.get_me,
            "sendMessage": self.send_message,
            "editMessageText": self.edit_text,
            "editMessageCaption": self.edit_caption,
            "editMessageReplyMarkup": self.edit_markup,
            "deleteMessage": self.delete_message,
            "answerCallbackQuery": self.answer_callback,
            "sendChatAction": self.send_chat_action,
            "setMyCommands": self.set_commands,
            "getMyCommands": self.get_commands,
            "deleteMyCommands": self.delete_commands,
            "getChat": self.get_chat,
            "getChatMember": self.get_chat_member,
        }

    async def get_me(self, params: Json, files: dict[str, UploadedFile]) -> Json:
        """getMe: the full bot User."""
        return {
            **self.world.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
            "has_topics_enabled": False,
        }

    async def send_message(self, params: Json, files: dict[str, UploadedFile]) -> Json:
        """sendMessage."""
        chat, message = new_bot_message(self.world, params)
        text, entities = formatted(params, "text", "entities")
        if not text.strip():
            raise bad_request("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        set_formatted(message, "text", text, entities)
        return copy.deepcopy(self.world.add_message(chat, message))

    def _editable(self, params: Json) -> Json:
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # the fake has no inline mode
        chat = self.world.require_chat(params.get("chat_id"))
        self.world.require_reachable(chat)
        message_id = params.get("message_id")
        if not message_id:
            raise bad_request("message identifier is not specified")
        message = self.world.get_message(chat["id"], message_id)
        if message is None:
            raise bad_request("message to edit not found")
        if message.get("from", {}).get("id") != self.world.bot_id:
            raise bad_request("message can't be edited")
        return message

    def _commit_edit(self, message: Json, edited: Json, params: Json) -> Json:
        # Telegram drops the inline keyboard when an edit does not repeat it.
        edited.pop("reply_markup", None)
        markup = inline_markup(params.get("reply_markup"), edit=True)
        if markup:
            edited["reply_markup"] = markup
        keys = ("text", "entities", "caption", "caption_entities", "reply_markup")
        if all(message.get(key) == edited.get(key) for key in keys):
            raise bad_request(NOT_MODIFIED)
        edited["edit_date"] = now()
        message.clear()
        message.update(edited)
        return copy.deepcopy(message)

    async def edit_text(self, params: Json, files: dict[str, UploadedFile]) -> Json:
        """editMessageText."""
        message = self._editable(params)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        text, entities = formatted(params, "text", "entities")
        if not text.strip():
            raise bad_request("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        edited = copy.deepcopy(message)
        set_formatted(edited, "text", text, entities)
        return self._commit_edit(message, edited, params)

    async def edit_caption(self, params: Json, files: dict[str, UploadedFile]) -> Json:
        """editMessageCaption (an absent caption removes it)."""
        message = self._editable(params)
        if not any(key in message for key in _MEDIA_KEYS):
            raise bad_request("there is no caption in the message to edit")
        caption, entities = formatted(params, "caption", "caption_entities")
        if len(caption) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        edited = copy.deepcopy(message)
        set_formatted(edited, "caption", caption, entities)
        return self._commit_edit(message, edited, params)

    async def edit_markup(self, params: Json, files: dict[str, UploadedFile]) -> Json:
        """editMessageReplyMarkup (an absent markup removes the keyboard)."""
        message = self._editable(params)
        return self._commit_edit(message, copy.deepcopy(message), params)

    async def delete_message(self, params: Json, files: dict[str, UploadedFile]) -> bool:
        """deleteMessage."""
        chat = self.world.require_chat(params.get("chat_id"))
        messages = self.world.messages.get(chat["id"], {})
        if messages.pop(params.get("message_id") or 0, None) is None:
            raise bad_request("message to delete not found")
        return True

    async def answer_callback(self, params: Json, files: dict[str, UploadedFile]) -> bool:
        """answerCallbackQuery: each query can be answered once, within the answer window."""
        if len(str(params.get("text") or "")) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self.queries.answer(str(params.get("callback_query_id") or ""))
        return True

    async def send_chat_action(self, params: Json, files: dict[str, UploadedFile]) -> bool:
        """sendChatAction."""
        chat = self.world.require_chat(params.get("chat_id"))
        self.world.require_reachable(chat)
        if params.get("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    @staticmethod
    def _scope_key(params: Json) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def set_commands(self, params: Json, files: dict[str, UploadedFile]) -> bool:
        """setMyCommands with Telegram's command and description rules."""
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        for entry in commands:
            name = str(entry.get("command", "")) if isinstance(entry, dict) else ""
            if not 1 <= len(name) <= 32 or not all(
                c.islower() or c.isdigit() or c == "_" for c in name
            ):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(entry.get("description", "")).strip()) <= 256:
                raise bad_request("command description must be non-empty")
        self.commands[self._scope_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def get_commands(self, params: Json, files: dict[str, UploadedFile]) -> list[Json]:
        """getMyCommands."""
        return list(self.commands.get(self._scope_key(params), []))

    async def delete_commands(self, params: Json, files: dict[str, UploadedFile]) -> bool:
        """deleteMyCommands."""
        self.commands.pop(self._scope_key(params), None)
        return True

    async def get_chat(self, params: Json, files: dict[str, UploadedFile]) -> Json:
        """getChat: a ChatFullInfo."""
        chat = self.world.require_chat(params.get("chat_id"))
        gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription")
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": dict.fromkeys((*gifts, "gifts_from_channels"), False),
        }

    async def get_chat_member(self, params: Json, files: dict[str, UploadedFile]) -> Json:
        """getChatMember: administrator, member or left, from what the test set up."""
        chat = self.world.require_chat(params.get("chat_id"))
        user_id = params.get("user_id")
        if not isinstance(user_id, int) or user_id <= 0:
            raise bad_request("invalid user_id specified")
        user = self.world.known_user(user_id)
        if user_id in self.world.admins.get(chat["id"], set()):
            return _administrator(user)
        seen = self.world.members.get(chat["id"], set())
        if user_id in seen or user_id == self.world.bot_id:
            return {"status": "member", "user": user}
        if user_id not in self.world.users:
            raise bad_request("user not found")
        return {"status": "left", "user": user}


def _administrator(user: Json) -> Json:
    rights = (
        "can_manage_chat can_delete_messages can_manage_video_chats can_restrict_members "
        "can_change_info can_invite_users can_post_stories can_edit_stories can_delete_stories "
        "can_pin_messages can_manage_topics"
    ).split()
    return {
        "status": "administrator",
        "user": user,
        "can_be_edited": False,
        "is_anonymous": False,
        "can_promote_members": False,
        **dict.fromkeys(rights, True),
    }
