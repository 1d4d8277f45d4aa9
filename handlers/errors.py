"""The last line of defence: log the error, tell the user something went wrong (no traceback)."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot.texts import t
from handlers.context import BotContext, lang

log = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    """Log with the update id; reply with a plain apology when there is someone to reply to."""
    log.error("error while handling an update", exc_info=context.error)
    if not isinstance(update, Update):
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(t(lang(update, context), "internal_error")[:200])
        elif update.effective_message is not None:
            await update.effective_message.reply_text(t(lang(update, context), "internal_error"))
    except TelegramError:
        log.warning("could not tell the user about the error")
