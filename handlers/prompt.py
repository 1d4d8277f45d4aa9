"""Text messages: a reply that sets a draft's prompt, or a hint to send a photo.

A reply to the bot's prompt question (the ForceReply) or to a draft's options message sets that
draft's prompt and redraws the options message; editing such a reply sets it again. Only the
user who started the draft can change it; in a group every other text is ignored silently (with
privacy mode on the bot only sees replies to its own messages anyway). In a private chat anything
else the user sends (text, stickers, videos, voice, locations...) gets a hint to send a photo, so
a user never meets silence; edits and service messages (pins, payments) are not answered.
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import filters

from bot.texts import t
from handlers.context import BotContext, lang

# Telegram's own notices in a chat: nothing the user asked the bot about.
_SERVICE = filters.StatusUpdate.ALL | filters.SUCCESSFUL_PAYMENT


async def on_reply(update: Update, context: BotContext) -> None:
    """A reply to our options message or prompt question becomes the draft's prompt."""
    msg, user = update.effective_message, update.effective_user
    if msg is None or user is None or msg.reply_to_message is None:
        return
    svc = context.jobs
    draft = await svc.draft_replied_to(msg.chat_id, msg.reply_to_message.message_id)
    if draft is None or draft.user_id != user.id or msg.sender_chat is not None:
        if msg.chat.type == ChatType.PRIVATE:
            await on_other(update, context)
        return
    await svc.set_prompt(draft, msg.text or "")


async def on_other(update: Update, context: BotContext) -> None:
    """Anything else in a private chat: explain what the bot needs."""
    msg = update.message  # edited messages: not answered again
    if msg is None or _SERVICE.check_update(update):
        return
    user = update.effective_user
    if msg.text and user is not None and msg.chat.type == ChatType.PRIVATE:
        # The user closed the prompt question and just typed the prompt: take it.
        svc = context.jobs
        draft = await svc.draft_awaiting_prompt(msg.chat_id, user.id)
        if draft is not None:
            await svc.set_prompt(draft, msg.text)
            return
    await msg.reply_text(t(lang(update, context), "need_photo"))
