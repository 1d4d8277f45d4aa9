"""What Telegram does to a chat and to a sent video, and how the bot follows it.

- A group that becomes a supergroup answers every send with `migrate_to_chat_id` (PTB's
  `ChatMigrated`): the bot sends there from then on and moves the group's jobs with it.
- A user who blocked the bot or deleted their account (403), a deleted chat ("chat not found")
  or a closed forum topic (TOPIC_CLOSED) will not take the video however often it is retried.
- sendVideo answers with a `video`, or with an `animation` (a silent MP4) or a `document` (not
  an MP4): the file id is in whichever came back, and a re-send must use the matching method.
- A send whose connection failed before the request went out can safely be sent again; one whose
  answer was lost after it went out has most likely been delivered, and must not be sent twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from telegram import Bot, Message
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    TelegramError,
    TimedOut,
)

log = logging.getLogger(__name__)
_T = TypeVar("_T")
# BadRequest descriptions that mean "this chat or topic takes no more messages from the bot".
_GONE = ("chat not found", "topic_closed", "topic closed")
# httpx errors raised before a request left the machine: nothing reached Telegram.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class ChatMoves:
    """Old group id -> supergroup id, learnt from Telegram's `migrate_to_chat_id` answers."""

    def __init__(self) -> None:
        self._to: dict[int, int] = {}
        # Told once per move (the job store moves the group's jobs); set by the composition root.
        self.on_moved: Callable[[int, int], Awaitable[Any]] | None = None

    def current(self, chat_id: int) -> int:
        """Where messages for `chat_id` go now."""
        seen = {chat_id}
        while chat_id in self._to and self._to[chat_id] not in seen:
            chat_id = self._to[chat_id]
            seen.add(chat_id)
        return chat_id

    async def moved(self, old: int, new: int) -> None:
        """Record a migration (once) and tell the owner of the jobs."""
        if self._to.get(old) == new:
            return
        self._to[old] = new
        log.info("chat %s became supergroup %s", old, new)
        if self.on_moved is not None:
            await self.on_moved(old, new)

    async def follow(self, chat_id: int, send: Callable[[int], Awaitable[_T]]) -> _T:
        """Send to where the chat is now; after a migration answer, once more to the new id."""
        current = self.current(chat_id)
        try:
            return await send(current)
        except ChatMigrated as exc:
            await self.moved(current, exc.new_chat_id)
            return await send(exc.new_chat_id)


def chat_gone(exc: TelegramError) -> bool:
    """Telegram will refuse every further message to this chat or topic."""
    if isinstance(exc, Forbidden):
        return True
    return isinstance(exc, BadRequest) and any(g in exc.message.lower() for g in _GONE)


def answer_lost(exc: TelegramError) -> bool:
    """The request went out and its answer never came back (it may well have been done)."""
    # BadRequest is a NetworkError too in PTB, but it is an answer: only the bare error counts.
    if type(exc) is not NetworkError and not isinstance(exc, TimedOut):
        return False
    return not isinstance(exc.__cause__, _NOT_SENT)


def never_sent(exc: TelegramError) -> bool:
    """The connection failed before the request went out: sending again cannot duplicate."""
    return isinstance(exc, NetworkError) and isinstance(exc.__cause__, _NOT_SENT)


def file_id_of(msg: Message) -> str | None:
    """The file id of a sent video, whatever Telegram made of it."""
    for media in (msg.video, msg.animation, msg.document):
        if media is not None:
            return media.file_id
    return None


async def resend_any_kind(bot: Bot, chat_id: int, file_id: str, **kwargs: Any) -> Message:
    """Send a kept file id again: as a video, or as the animation or document Telegram made of
    the upload (a file id only goes out through the method of its own kind)."""
    senders: list[Callable[..., Awaitable[Message]]] = [
        lambda: bot.send_video(chat_id, file_id, supports_streaming=True, **kwargs),
        lambda: bot.send_animation(chat_id, file_id, **kwargs),
        lambda: bot.send_document(chat_id, file_id, **kwargs),
    ]
    for send in senders[:-1]:
        try:
            return await send()
        except BadRequest as exc:
            if "type of file mismatch" not in exc.message.lower():
                raise
    return await senders[-1]()
