"""Photos and image files become drafts; in groups only when the bot is asked to.

Private chat: every photo, and every image sent as a file (JPEG, PNG, WebP, HEIC/HEIF; by MIME
type, or by file name when the client sends a generic type). Anything else gets an answer saying
what to send; files over Telegram's 20 MB download limit are refused from their `file_size`,
before any download. The caption is the prompt (a leading `/video` or `@bot` is dropped). Albums
(media groups) get one options message, for their first photo, saying so; the other photos of the
album are ignored. Edited messages are ignored (they would otherwise start a second draft).

Group or supergroup: the bot reacts to exactly these, and ignores everything else silently:

- a photo (or image file) whose caption starts with `/video` or `/video@<bot>`;
- a photo whose caption mentions `@<bot>` anywhere (the mention is dropped from the prompt);
- `/video <prompt>` (or `/video@<bot> <prompt>`) sent as a reply to a photo; without a prompt the
  photo's caption is used. The person who sends the command owns the job, even when someone else
  posted the photo; only they can press its buttons, and their credits pay for it.

Messages sent on behalf of a chat (anonymous admins, a linked channel's automatic forwards) are
ignored: nobody could press the job's buttons. `GROUP_MODE` (open / admins-only / off) and
`ALLOWED_CHAT_IDS` are applied before anything is downloaded; a refusal is silent.

Privacy mode. Everything above works with the bot's privacy mode ON (the default). With privacy
mode on, Telegram delivers to a bot in a group only messages that start with `/` or mention it by
username, and replies to its own messages (BotFather's /setprivacy):

- a photo whose caption mentions `@<bot>`: delivered (a mention);
- a photo whose caption starts with `/video` or `/video@<bot>`: delivered (starts with `/`);
- `/video <prompt>` replying to a photo: delivered (starts with `/`); in a group with several bots,
  `/video@<bot>` or the mention makes clear which bot is meant;
- replies to the bot's own messages (the prompt question, the options message): delivered, so
  "reply with the prompt" and "reply to change the prompt" work.

Nothing the bot reacts to needs privacy mode OFF. Turning it off (or making the bot a group admin)
only makes Telegram deliver every group message, which the bot then ignores; the one behaviour
that would need it, reacting to a photo posted with no trigger at all, is deliberately not offered.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from telegram import Message, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError

from bot.jobs.service import PhotoInput
from bot.telegram.messenger import MAX_PHOTO_DOWNLOAD
from bot.telegram.recorded import is_replay
from bot.texts import t
from handlers.context import BotContext, lang, thread_of
from handlers.start import take_preset

log = logging.getLogger(__name__)

IMAGE_MIME = re.compile(
    r"^image/(jpeg|jpg|pjpeg|png|webp|heic|heif|heic-sequence|heif-sequence)$", re.IGNORECASE
)
# Some desktop clients send every file as application/octet-stream: trust the name then.
GENERIC_MIME = frozenset({"", "application/octet-stream", "binary/octet-stream"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".heic", ".heif"})
ALBUM_MEMORY = 2000  # media groups remembered per bot; albums arrive within seconds


@dataclass(frozen=True)
class _Media:
    """What a message carries: an image (file id and size), or a file that is not one."""

    file_id: str
    size: int | None
    is_image: bool


def _media_of(msg: Message) -> _Media | None:
    """The largest photo, an image sent as a file, another file, or None (no media)."""
    if msg.photo:
        largest = max(msg.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        return _Media(largest.file_id, largest.file_size, True)
    doc = msg.document
    if doc is None:
        return None
    mime = (doc.mime_type or "").strip().lower()
    suffix = PurePosixPath(doc.file_name or "").suffix.lower()
    is_image = bool(IMAGE_MIME.match(mime)) or (mime in GENERIC_MIME and suffix in IMAGE_SUFFIXES)
    return _Media(doc.file_id, doc.file_size, is_image)


def _strip_trigger(text: str, username: str) -> tuple[bool, str]:
    """Whether a caption asks this bot for a video, and the prompt without the trigger."""
    stripped = text.strip()
    name = re.escape(username)
    command = re.match(rf"^/video(@{name})?(\s+|$)", stripped, re.IGNORECASE)
    if command:
        return True, stripped[command.end() :].strip()
    mention = re.compile(rf"(?<![\w@])@{name}(?!\w)", re.IGNORECASE)
    if mention.search(stripped):
        without = mention.sub("", stripped)
        return True, re.sub(r"[ \t]{2,}", " ", without).strip()
    return False, stripped


def _first_of_album(context: BotContext, chat_id: int, media_group_id: str) -> bool:
    """True for the first message of a media group seen in this chat (checked without awaiting,
    so with concurrent updates the earliest update of the album wins)."""
    seen = context.bot_data.albums_seen
    key = (chat_id, media_group_id)
    if key in seen:
        return False
    seen[key] = True
    while len(seen) > ALBUM_MEMORY:
        seen.popitem(last=False)
    return True


async def _group_allowed(update: Update, context: BotContext) -> bool:
    """GROUP_MODE and ALLOWED_CHAT_IDS for a group message; False means "ignore silently"."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return False
    cfg = context.config
    if cfg.group_mode == "off":
        return False
    if cfg.allowed_chat_ids and chat.id not in cfg.allowed_chat_ids:
        return False
    if cfg.group_mode == "admins-only" and user.id not in cfg.admin_ids:
        try:
            member = await context.bot.get_chat_member(chat.id, user.id)
        except TelegramError as exc:
            log.info("getChatMember for chat %s failed, ignoring the message: %s", chat.id, exc)
            return False
        return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
    return True


def _private(msg: Message) -> bool:
    return msg.chat.type == ChatType.PRIVATE


async def on_media(update: Update, context: BotContext) -> None:
    """A photo or a file: start a draft, or explain what is wrong with the file."""
    msg, user = update.message, update.effective_user  # edited messages: ignored
    if msg is None or user is None:
        return
    private = _private(msg)
    asked, prompt = _strip_trigger(msg.caption or "", context.bot.username)
    if not private and (not asked or msg.sender_chat is not None):
        return
    # Claim the album before any await, so its first update (not a later one) is the one used.
    if msg.media_group_id and not _first_of_album(context, msg.chat_id, msg.media_group_id):
        return
    if not private and not await _group_allowed(update, context):
        return
    media = _media_of(msg)
    if media is None or not media.is_image:
        await _answer(msg, t(lang(update, context), "not_an_image"))
        return
    await _start(update, context, msg, media, prompt, from_album=bool(msg.media_group_id))


async def video_command(update: Update, context: BotContext) -> None:
    """`/video <prompt>` as a reply to a photo; in a private chat also a hint how to use it."""
    msg, user = update.message, update.effective_user
    if msg is None or user is None:
        return
    private = _private(msg)
    target = msg.reply_to_message
    media = _media_of(target) if target is not None else None
    if not private:
        # Only a reply to a photo or image file is a request; anything else stays silent.
        if target is None or media is None or not media.is_image or msg.sender_chat is not None:
            return
        if not await _group_allowed(update, context):
            return
    if target is None or media is None:
        await _answer(msg, t(lang(update, context), "need_photo"))
        return
    if not media.is_image:
        await _answer(msg, t(lang(update, context), "not_an_image"))
        return
    parts = (msg.text or "").split(maxsplit=1)
    prompt = parts[1].strip() if len(parts) > 1 else ""
    if not prompt:
        prompt = _strip_trigger(target.caption or "", context.bot.username)[1]
    await _start(update, context, target, media, prompt, from_album=False)


async def _start(
    update: Update,
    context: BotContext,
    photo_msg: Message,
    media: _Media,
    prompt: str,
    *,
    from_album: bool,
) -> None:
    """Hand the photo to the service; a file Telegram will not let us download is refused here."""
    user, msg = update.effective_user, update.effective_message
    assert user is not None and msg is not None
    if is_replay(update, context) and await context.jobs.photo_answered(
        photo_msg.chat_id, photo_msg.message_id
    ):
        return  # handled before a crash, only its "handled" mark was lost: answer once
    language = lang(update, context)
    if media.size is not None and media.size > MAX_PHOTO_DOWNLOAD:
        await _answer(msg, t(language, "photo_too_big_file"))
        return
    prompt = prompt or take_preset(context)  # a description tapped under /start
    await context.jobs.new_draft(
        PhotoInput(
            user_id=user.id,
            chat_id=photo_msg.chat_id,
            thread_id=thread_of(update),
            message_id=photo_msg.message_id,
            file_id=media.file_id,
            file_size=media.size,
            prompt=prompt,
            language=language,
            from_album=from_album,
            owner_name=user.first_name,
        )
    )


async def _answer(msg: Message, text: str) -> None:
    """Reply quoting the message it is about (in its topic), even if that was deleted since."""
    await msg.reply_text(text, do_quote=True, allow_sending_without_reply=True)
