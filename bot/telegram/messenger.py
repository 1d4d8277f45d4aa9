"""The Telegram seam of the job service: photo download, status edits, video delivery.

Status edits are paced here: at most one every `min_edit_interval` seconds per message (a newer
state waits for the window and replaces one still waiting), never an unchanged text, so a fast
job or a chatty provider can never flood a chat. Answers to a button press and final states pass
`force=True` and go out at once.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from telegram import (
    Bot,
    ForceReply,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyParameters,
)
from telegram.constants import ChatAction
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError
from telegram.ext import ExtBot

from bot.telegram.chat_fates import ChatMoves, file_id_of, resend_any_kind

log = logging.getLogger(__name__)

MAX_PHOTO_DOWNLOAD = 20 * 1024 * 1024  # getFile's limit on the cloud Bot API
UPLOAD_CHUNK = 1024 * 1024  # memory per upload in flight: 1 MiB, whatever the video's size
# Flood waits PTB's rate limiter sits out for one sendVideo before it gives up (its default for
# every other call is 5): a paid video is worth a longer wait than a refund and "it failed".
VIDEO_FLOOD_RETRIES = 15


class PhotoTooBig(Exception):
    """Telegram will not let a bot download a file this large."""


class PhotoDownloadFailed(Exception):
    """getFile or the file download failed."""


@dataclass(frozen=True)
class Target:
    """Where a job's messages go."""

    chat_id: int
    thread_id: int | None = None
    reply_to: int | None = None


@dataclass(frozen=True)
class SentVideo:
    message_id: int
    file_id: str | None


class TelegramMessenger:
    """Talks to the Bot API through PTB's `Bot` (rate-limited and retried by PTB)."""

    def __init__(
        self,
        bot: Bot,
        *,
        min_edit_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot = bot
        self.min_edit_interval = min_edit_interval
        self.clock = clock
        self._last_edit: dict[tuple[int, int], tuple[float, str]] = {}
        self._pending: dict[tuple[int, int], tuple[str, InlineKeyboardMarkup | None]] = {}
        self._timers: dict[tuple[int, int], asyncio.Task[None]] = {}
        self._generation: dict[tuple[int, int], int] = {}
        self._locks: dict[tuple[int, int], asyncio.Lock] = {}
        # Groups that became supergroups: sends follow migrate_to_chat_id (and the jobs move).
        self.moves = ChatMoves()

    async def download_photo(self, file_id: str, file_size: int | None = None) -> bytes:
        """The photo's bytes via getFile; the file URL (it holds the token) never leaves PTB."""
        if file_size is not None and file_size > MAX_PHOTO_DOWNLOAD:
            raise PhotoTooBig(file_size)
        try:
            tg_file = await self.bot.get_file(file_id)
            if tg_file.file_size and tg_file.file_size > MAX_PHOTO_DOWNLOAD:
                raise PhotoTooBig(tg_file.file_size)
            return bytes(await tg_file.download_as_bytearray())
        except BadRequest as exc:
            if "too big" in exc.message.lower():
                raise PhotoTooBig(file_size or 0) from exc
            raise PhotoDownloadFailed(exc.message) from exc
        except TelegramError as exc:
            raise PhotoDownloadFailed(type(exc).__name__) from exc

    async def delete(self, chat_id: int, message_id: int) -> bool:
        """Remove a helper message; one that is already gone (or too old to delete) is no loss."""
        try:
            return await self.bot.delete_message(chat_id, message_id)
        except TelegramError as exc:
            log.info("deleting message %s in chat %s failed: %s", message_id, chat_id, exc)
            return False

    async def send_text(
        self, target: Target, text: str, *, markup: InlineKeyboardMarkup | ForceReply | None = None
    ) -> int | None:
        """Send a message; returns its id, or None when Telegram refused it (logged)."""
        try:
            msg = await self.moves.follow(
                target.chat_id,
                lambda chat_id: self.bot.send_message(
                    chat_id,
                    text,
                    message_thread_id=target.thread_id,
                    reply_parameters=_reply(target.reply_to),
                    reply_markup=markup,
                ),
            )
        except (BadRequest, Forbidden) as exc:
            log.warning("send_message to chat %s refused: %s", target.chat_id, exc.message)
            return None
        return msg.message_id

    async def edit(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        markup: InlineKeyboardMarkup | None = None,
        force: bool = True,
    ) -> bool:
        """Edit a message. `force`: now (a reply to a press, a final state). Otherwise at most one
        edit per `min_edit_interval`: a newer text waits for the window and replaces any text
        still waiting, so the message always ends on the latest state. Unchanged text: no call."""
        key = (chat_id, message_id)
        now = self.clock()
        last = self._last_edit.get(key)
        if force:
            self._generation[key] = self._generation.get(key, 0) + 1  # drops a waiting edit
            self._pending.pop(key, None)
        elif last is not None and now - last[0] < self.min_edit_interval:
            if last[1] != text or key in self._pending:
                self._pending[key] = (text, markup)
                if key not in self._timers:
                    delay = self.min_edit_interval - (now - last[0])
                    self._timers[key] = asyncio.create_task(self._deferred(key, delay))
            return False
        return await self._send_edit(key, text, markup, unchanged_ok=not force)

    async def _deferred(self, key: tuple[int, int], delay: float) -> None:
        generation = self._generation.get(key, 0)
        try:
            await asyncio.sleep(delay)  # a timer, not synchronisation: the edit window opens
            pending = self._pending.pop(key, None)
            if pending is not None and self._generation.get(key, 0) == generation:
                await self._send_edit(key, pending[0], pending[1], unchanged_ok=True)
        except TelegramError as exc:  # a progress edit is not worth more than a log line
            log.info("paced edit of message %s failed: %s", key[1], exc)
        finally:
            self._timers.pop(key, None)

    def waiting_edits(self) -> list[asyncio.Task[None]]:
        """The paced edits still waiting for their window (what "the bot is idle" waits on)."""
        return list(self._timers.values())

    async def aclose(self) -> None:
        """Drop edits still waiting for their window (the bot is stopping)."""
        timers = list(self._timers.values())
        for timer in timers:
            timer.cancel()
        await asyncio.gather(*timers, return_exceptions=True)
        self._pending.clear()

    async def _send_edit(
        self,
        key: tuple[int, int],
        text: str,
        markup: InlineKeyboardMarkup | None,
        *,
        unchanged_ok: bool,
    ) -> bool:
        chat_id, message_id = key
        last = self._last_edit.get(key)
        if unchanged_ok and last is not None and last[1] == text:
            return False
        async with self._locks.setdefault(key, asyncio.Lock()):
            if self.moves.current(chat_id) != chat_id:
                return False  # the group became a supergroup: its old messages are read-only
            try:
                await self.bot.edit_message_text(
                    text, chat_id=chat_id, message_id=message_id, reply_markup=markup
                )
            except BadRequest as exc:
                if "not modified" not in exc.message.lower():
                    log.warning(
                        "edit of message %s in chat %s refused: %s", message_id, chat_id, exc
                    )
                    return False
            except Forbidden as exc:
                log.warning("edit in chat %s forbidden: %s", chat_id, exc.message)
                return False
            except ChatMigrated as exc:  # the old group is read-only now: its message stays
                await self.moves.moved(chat_id, exc.new_chat_id)
                log.info("edit in chat %s skipped: moved to %s", chat_id, exc.new_chat_id)
                return False
            self._last_edit[key] = (self.clock(), text)
        return True

    def forget(self, chat_id: int, message_id: int) -> None:
        """The message reached its final state: drop its bookkeeping and any waiting edit."""
        key = (chat_id, message_id)
        self._last_edit.pop(key, None)
        self._pending.pop(key, None)
        self._generation[key] = self._generation.get(key, 0) + 1
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self._locks.pop(key, None)

    async def upload_action(self, target: Target) -> None:
        try:
            await self.moves.follow(
                target.chat_id,
                lambda chat_id: self.bot.send_chat_action(
                    chat_id, ChatAction.UPLOAD_VIDEO, message_thread_id=target.thread_id
                ),
            )
        except TelegramError as exc:
            log.info("chat action failed: %s", exc)

    async def send_video(
        self,
        target: Target,
        path: Path,
        *,
        caption: str,
        width: int | None,
        height: int | None,
        duration: int | None,
        thumbnail: Path | None,
        markup: InlineKeyboardMarkup | None,
    ) -> SentVideo:
        """Upload the video as a reply to the user's photo; Telegram errors propagate.

        The video is streamed from disk: PTB would read a file handle whole into memory, so it
        gets an `InputFile` that keeps the handle (`read_file_handle=False`) and httpx sends it
        piece by piece (`_UploadFile`), seeking back to the start when PTB's rate limiter
        retries. The request
        still goes through `Bot.send_video`: same error mapping, same rate limiter."""
        send = self.bot.send_video
        if isinstance(self.bot, ExtBot) and self.bot.rate_limiter is not None:
            send = partial(self.bot.send_video, rate_limit_args=VIDEO_FLOOD_RETRIES)
        with _UploadFile(path) as handle:
            video = InputFile(handle, filename="video.mp4", read_file_handle=False)
            thumb = thumbnail.open("rb") if thumbnail else None
            try:
                msg: Message = await send(
                    self.moves.current(target.chat_id),
                    video,
                    caption=caption,
                    width=width,
                    height=height,
                    duration=duration,
                    thumbnail=thumb,
                    supports_streaming=True,
                    message_thread_id=target.thread_id,
                    reply_parameters=_reply(target.reply_to),
                    reply_markup=markup,
                    read_timeout=120,
                    write_timeout=300,
                )
            finally:
                if thumb:
                    thumb.close()
        return SentVideo(msg.message_id, file_id_of(msg))

    async def resend_video(
        self, target: Target, file_id: str, *, caption: str, markup: InlineKeyboardMarkup | None
    ) -> int:
        msg = await resend_any_kind(
            self.bot,
            self.moves.current(target.chat_id),
            file_id,
            caption=caption,
            message_thread_id=target.thread_id,
            reply_parameters=_reply(target.reply_to),
            reply_markup=markup,
        )
        return msg.message_id


class _UploadFile(io.FileIO):
    """A file httpx reads in `UPLOAD_CHUNK` pieces rather than its fixed 64 KiB: the profile of
    a 20 MiB sendVideo showed most of its event-loop time in per-piece overhead (a write and a
    cancellation checkpoint each), 320 times; 16 pieces cost a sixteenth of that."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "rb")

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and 0 < size < UPLOAD_CHUNK:
            size = UPLOAD_CHUNK
        return super().read(size)


def _reply(message_id: int | None) -> ReplyParameters | None:
    # Without allow_sending_without_reply a deleted photo would make the whole delivery fail.
    if message_id is None:
        return None
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)
