"""Telegram update handlers: each turns an update into one service call and a reply."""

from __future__ import annotations

from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from handlers import account, buttons, errors, photo, prompt, start


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Attach every handler; order matters (first match wins within a group)."""
    app.add_handler(CommandHandler("start", start.start))
    app.add_handler(CommandHandler("help", start.help_command))
    app.add_handler(CommandHandler("balance", account.balance))
    app.add_handler(CommandHandler("jobs", account.jobs))
    app.add_handler(CommandHandler("resend", account.resend))
    app.add_handler(CommandHandler("video", photo.video_command))
    app.add_handler(CallbackQueryHandler(buttons.on_button))
    app.add_handler(MessageHandler(filters.PHOTO | filters.Document.ALL, photo.on_media))
    app.add_handler(
        MessageHandler(filters.REPLY & filters.TEXT & ~filters.COMMAND, prompt.on_reply)
    )
    app.add_handler(MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE, start.unknown))
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & ~filters.COMMAND, prompt.on_other))
    app.add_error_handler(errors.on_error)
