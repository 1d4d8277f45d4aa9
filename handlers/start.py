"""/start, /help and unknown commands."""

from __future__ import annotations

from telegram import Update

from bot.texts import t
from handlers.context import Context, config, lang
from handlers.payments import start_argument


async def start(update: Update, context: Context) -> None:
    """Greet the user and explain the bot in two short paragraphs."""
    if update.effective_message:
        quota = config(context).daily_quota
        await update.effective_message.reply_text(t(lang(update, context), "start", quota=quota))
        await start_argument(update, context)  # issue 15: /start buy, /start ref_<code>


async def help_command(update: Update, context: Context) -> None:
    """How to use the bot."""
    if update.effective_message:
        await update.effective_message.reply_text(t(lang(update, context), "help"))


async def unknown(update: Update, context: Context) -> None:
    """A command we do not know, in a private chat."""
    if update.effective_message:
        await update.effective_message.reply_text(t(lang(update, context), "unknown_command"))
