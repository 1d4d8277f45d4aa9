"""Telegram update handlers: each turns an update into one service call and a reply."""

from __future__ import annotations

from collections.abc import Collection

from telegram import Update
from telegram.ext import Application, CommandHandler, MessageHandler, TypeHandler, filters

from handlers import account, admin, buttons, errors, language, photo, prompt, start


def register(app: Application, admin_ids: Collection[int]) -> None:  # type: ignore[type-arg]
    """Attach every handler; order matters (first match wins within a group)."""
    # Group -1 runs first for every update: records the user, silences banned ones.
    app.add_handler(TypeHandler(Update, admin.ban_gate), group=-1)
    app.add_handler(CommandHandler("start", start.start))
    app.add_handler(CommandHandler("help", start.help_command))
    app.add_handler(CommandHandler("balance", account.balance))
    app.add_handler(CommandHandler("jobs", account.jobs))
    app.add_handler(CommandHandler("resend", account.resend))
    app.add_handler(CommandHandler("language", language.language_command))
    # Only for ADMIN_USER_IDS: anyone else falls through to `start.unknown` below.
    app.add_handlers(admin.admin_handlers(admin_ids))
    app.add_handler(CommandHandler("video", photo.video_command))
    app.add_handlers(buttons.button_handlers())
    app.add_handler(MessageHandler(filters.PHOTO | filters.Document.ALL, photo.on_media))
    app.add_handler(
        MessageHandler(filters.REPLY & filters.TEXT & ~filters.COMMAND, prompt.on_reply)
    )
    app.add_handler(MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE, start.unknown))
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & ~filters.COMMAND, prompt.on_other))
    app.add_error_handler(errors.on_error)
