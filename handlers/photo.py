"""Photos and image files become drafts; in groups only when the bot is asked to.

Private chat: every photo or image file. Group: a photo whose caption starts with /video or
mentions the bot, or `/video <prompt>` sent as a reply to a photo. All of these work with the
bot's privacy mode on (commands and mentions always reach a bot, and so do replies to the bot's
own messages). Everything else in a group is ignored silently.
"""

from __future__ import annotations

import logging
import re

from telegram import Message, Update
from telegram.constants import ChatMemberStatus, ChatType

from bot.jobs.messenger import MAX_PHOTO_DOWNLOAD
from bot.jobs.service import PhotoInput
from bot.photos import sniff_image_type
from bot.texts import t
from handlers.context import Context, config, lang, service, thread_of

log = logging.getLogger(__name__)

IMAGE_MIME = re.compile(r"^image/(jpeg|jpg|png|webp|heic|heif)$", re.IGNORECASE)
_seen_albums: dict[int, set[str]] = {}


def _photo_of(msg: Message) -> tuple[str, int | None] | None:
    """The file id and size of the largest photo, or of an image sent as a file."""
    if msg.photo:
        largest = max(msg.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        return largest.file_id, largest.file_size
    doc = msg.document
    if doc is not None and doc.mime_type and IMAGE_MIME.match(doc.mime_type):
        return doc.file_id, doc.file_size
    return None


def _strip_trigger(text: str, username: str) -> tuple[bool, str]:
    """Whether a group caption asks for a video, and the prompt without the trigger."""
    stripped = text.strip()
    match = re.match(rf"^/video(@{re.escape(username)})?(\s+|$)", stripped, re.IGNORECASE)
    if match:
        return True, stripped[match.end() :].strip()
    mention = f"@{username}"
    if mention.lower() in stripped.lower():
        return True, re.sub(re.escape(mention), "", stripped, flags=re.IGNORECASE).strip()
    return False, stripped


async def _group_allowed(update: Update, context: Context) -> bool:
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return False
    cfg = config(context)
    if cfg.group_mode == "off":
        return False
    if cfg.allowed_chat_ids and chat.id not in cfg.allowed_chat_ids:
        return False
    if cfg.group_mode == "admins-only" and user.id not in cfg.admin_ids:
        member = await context.bot.get_chat_member(chat.id, user.id)
        return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
    return True


async def on_media(update: Update, context: Context) -> None:
    """A photo or a file: start a draft, or explain what is wrong with the file."""
    msg, user = update.effective_message, update.effective_user
    if msg is None or user is None:
        return
    language = lang(update, context)
    caption = msg.caption or ""
    if msg.chat.type != ChatType.PRIVATE:
        asked, caption = _strip_trigger(caption, context.bot.username)
        if not asked or not await _group_allowed(update, context):
            return
    if msg.media_group_id:
        seen = _seen_albums.setdefault(msg.chat_id, set())
        if msg.media_group_id in seen:
            return  # one options message per album: its first photo
        seen.add(msg.media_group_id)
    found = _photo_of(msg)
    if found is None:
        await msg.reply_text(t(language, "not_an_image"))
        return
    file_id, size = found
    if size is not None and size > MAX_PHOTO_DOWNLOAD:
        await msg.reply_text(t(language, "photo_too_big_file"))
        return
    await _start(update, context, msg, file_id, size, caption, bool(msg.media_group_id))


async def video_command(update: Update, context: Context) -> None:
    """/video <prompt> as a reply to a photo (groups), or a hint how to use it."""
    msg, user = update.effective_message, update.effective_user
    if msg is None or user is None:
        return
    language = lang(update, context)
    target = msg.reply_to_message
    found = _photo_of(target) if target is not None else None
    if msg.chat.type != ChatType.PRIVATE and not await _group_allowed(update, context):
        return
    if target is None or found is None:
        await msg.reply_text(t(language, "need_photo"))
        return
    prompt = " ".join(context.args or []) or (target.caption or "")
    await _start(update, context, target, found[0], found[1], prompt, False)


async def _start(
    update: Update,
    context: Context,
    photo_msg: Message,
    file_id: str,
    size: int | None,
    prompt: str,
    from_album: bool,
) -> None:
    user = update.effective_user
    assert user is not None
    await service(context).new_draft(
        PhotoInput(
            user_id=user.id,
            chat_id=photo_msg.chat_id,
            thread_id=thread_of(update),
            message_id=photo_msg.message_id,
            file_id=file_id,
            file_size=size,
            prompt=prompt,
            language=lang(update, context),
            from_album=from_album,
        )
    )


def looks_like_image(data: bytes) -> bool:
    return sniff_image_type(data) is not None
