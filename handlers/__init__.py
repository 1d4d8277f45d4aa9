"""Telegram update handlers: each turns an update into one service call and a reply."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler, MessageHandler, TypeHandler, filters

from handlers import account, admin, buttons, errors, language, photo, prompt, start

# Commands run only from new messages: editing "/grant 1 5" must not grant again (PTB's default
# also matches edited messages), and an edited /video must not start a second job.
NEW = filters.UpdateType.MESSAGE


def _command(name: str, callback: Any) -> CommandHandler:  # type: ignore[type-arg]
    return CommandHandler(name, callback, filters=NEW)


def register(app: Application, admin_ids: Collection[int]) -> None:  # type: ignore[type-arg]
    """Attach every handler; order matters (first match wins within a group)."""
    # Group -1 runs first for every update: records the user, silences banned ones.
    app.add_handler(TypeHandler(Update, admin.ban_gate), group=-1)
    app.add_handler(_command("start", start.start))
    app.add_handler(_command("help", start.help_command))
    app.add_handler(_command("balance", account.balance))
    app.add_handler(_command("jobs", account.jobs))
    app.add_handler(_command("resend", account.resend))
    app.add_handler(_command("language", language.language_command))
    # Only for ADMIN_USER_IDS: anyone else falls through to `start.unknown` below.
    app.add_handlers(admin.admin_handlers(admin_ids))
    app.add_handler(_command("video", photo.video_command))
    app.add_handlers(buttons.button_handlers())
    app.add_handler(MessageHandler(filters.PHOTO | filters.Document.ALL, photo.on_media))
    app.add_handler(
        MessageHandler(filters.REPLY & filters.TEXT & ~filters.COMMAND, prompt.on_reply)
    )
    unknown_command = filters.COMMAND & filters.ChatType.PRIVATE & NEW
    app.add_handler(MessageHandler(unknown_command, start.unknown))
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & ~filters.COMMAND, prompt.on_other))
    app.add_error_handler(errors.on_error)
