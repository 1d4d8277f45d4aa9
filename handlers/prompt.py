"""Text messages: a reply that sets a draft's prompt, or a hint to send a photo."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType

from bot.texts import t
from handlers.context import Context, lang, service


async def on_reply(update: Update, context: Context) -> None:
    """A reply to our options message or prompt question becomes the draft's prompt."""
    msg, user = update.effective_message, update.effective_user
    if msg is None or user is None or msg.reply_to_message is None:
        return
    svc = service(context)
    draft = await svc.draft_replied_to(msg.chat_id, msg.reply_to_message.message_id)
    if draft is None or draft.user_id != user.id:
        if msg.chat.type == ChatType.PRIVATE:
            await on_other(update, context)
        return
    await svc.set_prompt(draft, msg.text or "")


async def on_other(update: Update, context: Context) -> None:
    """Anything else in a private chat: explain what the bot needs."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(t(lang(update, context), "need_photo"))
