"""What the fake Telegram server knows: users, chats, messages and files, as Bot API JSON."""

from __future__ import annotations

import copy
import io
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageOps

from bot.testing.bot_api.wire import ApiError, Json, bad_request

MB = 1024 * 1024
DOWNLOAD_LIMIT = 20 * MB  # getFile refuses bigger files
# Telegram keeps a photo as JPEGs scaled to these longest sides (the original size, capped, last).
PHOTO_BOXES = (90, 320, 800, 1280)
PHOTO_MAX_SIDE = 2560
THUMB_SIDE = 320
_FILE_ID_PREFIX = {
    "photo": "AgACAgIAAxkBAAI",
    "video": "BAACAgIAAxkBAAI",
    "document": "BQACAgIAAxkBAAI",
    "animation": "CgACAgIAAxkBAAI",
    "thumbnail": "AAMCAgADGQEAAg",
}
_FOLDER = {
    "photo": "photos",
    "video": "videos",
    "document": "documents",
    "animation": "animations",
    "thumbnail": "thumbnails",
}


def now() -> int:
    """Unix time in seconds, the unit of every Bot API date."""
    return int(time.time())


@dataclass
class StoredFile:
    """Bytes kept under a file_id; `meta` is the Bot API object the file was sent as."""

    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    path: str
    meta: Any = None

    def file_json(self) -> Json:
        """The File object getFile returns (path relative to the file base URL)."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.path,
        }


@dataclass
class World:
    """Server-side state: everything is plain JSON dicts as the Bot API returns them."""

    bot_id: int
    bot_username: str
    bot_first_name: str
    users: dict[int, Json] = field(default_factory=dict)
    chats: dict[int, Json] = field(default_factory=dict)
    members: dict[int, set[int]] = field(default_factory=dict)
    admins: dict[int, set[int]] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    # chat id -> the 403 Telegram answers for it (blocked, deactivated, kicked)
    forbidden: dict[int, str] = field(default_factory=dict)
    migrated: dict[int, int] = field(default_factory=dict)  # old group id -> supergroup id
    closed_topics: set[tuple[int, int]] = field(default_factory=set)  # (chat, thread)
    chat_instances: dict[int, str] = field(default_factory=dict)
    messages: dict[int, dict[int, Json]] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)
    files_by_path: dict[str, StoredFile] = field(default_factory=dict)
    _next_message: dict[int, int] = field(default_factory=dict)
    _file_seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def bot_user(self) -> Json:
        """The bot as it appears in `from` of its messages."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def user(self, user_id: int, first_name: str, language_code: str | None) -> Json:
        """Register (or refresh) a human user and return its User JSON."""
        user: Json = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            user["language_code"] = language_code
        self.users[user_id] = user
        return dict(user)

    def known_user(self, user_id: int) -> Json:
        """A User JSON for an id, registered or not (admins may never have written)."""
        if user_id == self.bot_id:
            return self.bot_user
        return dict(
            self.users.get(user_id) or {"id": user_id, "is_bot": False, "first_name": "User"}
        )

    def chat(self, chat_id: int, chat_type: str, user: Json, forum: bool) -> Json:
        """Register a chat the way a user's message reveals it and return its Chat JSON."""
        if chat_type == "private":
            chat: Json = {"id": chat_id, "first_name": user["first_name"], "type": "private"}
        elif chat_type in ("group", "supergroup"):
            if chat_id >= 0:
                raise ValueError("group chats have negative ids")
            old = self.chats.get(chat_id, {})
            chat = {
                "id": chat_id,
                "title": old.get("title", f"Group {-chat_id}"),
                "type": chat_type,
            }
            if forum or old.get("is_forum"):
                if chat_type != "supergroup":
                    raise ValueError("only supergroups have topics")
                chat["is_forum"] = True
        else:
            raise ValueError(f"unsupported chat type {chat_type!r}")
        self.chats[chat_id] = chat
        self.members.setdefault(chat_id, set()).add(user["id"])
        self.chat_instances.setdefault(chat_id, str(secrets.randbelow(10**19)))
        return dict(chat)

    def require_chat(self, chat_id: Any) -> Json:
        """The Chat for a chat_id parameter, or Telegram's 400/403."""
        if isinstance(chat_id, str):
            chat_id = next(
                (c for c, v in self.chats.items() if v.get("username") == chat_id), None
            )
        if isinstance(chat_id, int) and chat_id in self.migrated:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self.migrated[chat_id]},
            )
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def require_reachable(self, chat: Json) -> None:
        """Telegram's 403 for a chat the bot can no longer write to (blocked, deactivated...)."""
        if chat["id"] in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat["id"] in self.forbidden:
            raise ApiError(403, self.forbidden[chat["id"]])

    def require_open_topic(self, chat: Json, thread_id: int) -> None:
        """A closed forum topic takes no messages from a bot that cannot manage topics."""
        if (chat["id"], thread_id) in self.closed_topics:
            raise bad_request("TOPIC_CLOSED")

    def migrate(self, old_id: int, new_id: int) -> Json:
        """A group becomes a supergroup under a new id; the old id answers with the new one."""
        old = self.chats.pop(old_id)
        if old.get("type") != "group":
            raise ValueError("only a basic group migrates to a supergroup")
        chat: Json = {"id": new_id, "title": old.get("title", ""), "type": "supergroup"}
        self.chats[new_id] = chat
        self.members[new_id] = set(self.members.get(old_id, set()))
        self.admins[new_id] = set(self.admins.get(old_id, set()))
        self.chat_instances[new_id] = str(secrets.randbelow(10**19))
        self.migrated[old_id] = new_id
        return dict(chat)

    def add_message(self, chat: Json, message: Json, message_id: int | None = None) -> Json:
        """Store a message under the next id of its chat (ids are per chat) and return it."""
        chat_id = chat["id"]
        if message_id is None:
            message_id = self._next_message.get(chat_id, 1)
        self._next_message[chat_id] = max(self._next_message.get(chat_id, 1), message_id + 1)
        stored = {"message_id": message_id, **message, "chat": dict(chat)}
        self.messages.setdefault(chat_id, {})[message_id] = stored
        return stored

    def next_message_id(self, chat_id: int) -> int:
        """Take the next message id of a chat without storing a message (a service message)."""
        message_id = self._next_message.get(chat_id, 1)
        self._next_message[chat_id] = message_id + 1
        return message_id

    def get_message(self, chat_id: int, message_id: int) -> Json | None:
        """The current state of a stored message."""
        return self.messages.get(chat_id, {}).get(message_id)

    def as_reply(self, chat_id: int, message_id: int) -> Json | None:
        """A message as quoted in reply_to_message (Telegram does not nest a second level)."""
        message = self.get_message(chat_id, message_id)
        if message is None:
            return None
        quoted = copy.deepcopy(message)
        quoted.pop("reply_to_message", None)
        return quoted

    def topic_root(self, chat: Json, thread_id: int, creator: Json) -> Json:
        """The forum_topic_created service message every topic message replies to."""
        root = self.get_message(chat["id"], thread_id)
        if root is None or "forum_topic_created" not in root:
            root = self.add_message(
                chat,
                {
                    "from": creator,
                    "date": now(),
                    "message_thread_id": thread_id,
                    "forum_topic_created": {"name": f"Topic {thread_id}", "icon_color": 7322096},
                    "is_topic_message": True,
                },
                message_id=thread_id,
            )
        return root

    def add_file(self, data: bytes, kind: str, ext: str) -> StoredFile:
        """Keep bytes under a fresh file_id and a relative download path."""
        seq = next(self._file_seq)
        stored = StoredFile(
            file_id=_FILE_ID_PREFIX[kind] + secrets.token_urlsafe(40),
            file_unique_id="AgAD" + secrets.token_urlsafe(9),
            kind=kind,
            data=data,
            path=f"{_FOLDER[kind]}/file_{seq}.{ext}",
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.path] = stored
        return stored

    def photo_sizes(self, image: bytes) -> list[Json]:
        """Re-encode an image as Telegram does: JPEG PhotoSizes, smallest first, largest last."""
        sizes: list[Json] = []
        for width, height, data in _jpeg_scales(image, PHOTO_BOXES, PHOTO_MAX_SIDE):
            stored = self.add_file(data, "photo", "jpg")
            stored.meta = sizes  # re-sending any size by file_id returns the whole set
            sizes.append(self.photo_size(stored, width, height))
        return sizes

    def thumbnail(self, image: bytes) -> Json | None:
        """A ≤320 px JPEG thumbnail for an image, or None when it is not an image."""
        try:
            scales = _jpeg_scales(image, (), THUMB_SIDE)
        except ValueError:
            return None
        width, height, data = scales[-1]
        return self.photo_size(self.add_file(data, "thumbnail", "jpg"), width, height)

    @staticmethod
    def photo_size(stored: StoredFile, width: int, height: int) -> Json:
        """PhotoSize JSON for a stored JPEG."""
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "width": width,
            "height": height,
        }


def _jpeg_scales(image: bytes, boxes: tuple[int, ...], cap: int) -> list[tuple[int, int, bytes]]:
    try:
        with Image.open(io.BytesIO(image)) as opened:
            picture = ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError("not an image") from exc
    longest = max(picture.size)
    targets = [box for box in boxes if box < longest] + [min(longest, cap)]
    scales: list[tuple[int, int, bytes]] = []
    for box in targets:
        ratio = box / longest
        size = (max(1, round(picture.width * ratio)), max(1, round(picture.height * ratio)))
        scaled = (
            picture if size == picture.size else picture.resize(size, Image.Resampling.LANCZOS)
        )
        buffer = io.BytesIO()
        scaled.save(buffer, "JPEG", quality=87)
        scales.append((size[0], size[1], buffer.getvalue()))
    return scales
