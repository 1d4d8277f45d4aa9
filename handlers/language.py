"""/language: the user picks English or Russian; the choice is stored and wins over the client's.

The buttons carry `l|<code>` (buttons sent before carry `l|0|<code>`; both match
`choice_pattern`). `/language ru` sets it directly. The choice is kept by the account service,
which also remembers it for the sync `lang()` of `handlers.context`.
"""

from __future__ import annotations

import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update, User
from telegram.error import BadRequest, TelegramError

from bot.telegram.keyboards import Verb, encode_choice
from bot.texts import CATALOGS, language_for, raw, t
from handlers.context import BotContext, lang

log = logging.getLogger(__name__)


async def user_language(context: BotContext, user: User) -> str:
    """The user's stored /language choice, else their Telegram client's language, else English."""
    stored = await context.accounts.language(user.id)
    return stored or language_for(user.language_code)


def language_keyboard() -> InlineKeyboardMarkup:
    """One button per catalog, each labelled in its own language."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    raw(code, "language_name"), callback_data=encode_choice(Verb.LANGUAGE, code)
                )
                for code in CATALOGS
            ]
        ]
    )


async def language_command(update: Update, context: BotContext) -> None:
    """/language shows the buttons; /language <code> sets it at once."""
    msg, user = update.effective_message, update.effective_user
    if msg is None or user is None:
        return
    args = [a.lower() for a in context.args or []]
    if len(args) == 1 and args[0] in CATALOGS:
        await _store(context, user.id, args[0])
        await msg.reply_text(t(args[0], "language_set"))
        return
    current = await user_language(context, user)
    await msg.reply_text(t(current, "language_choose"), reply_markup=language_keyboard())


async def on_language_button(update: Update, context: BotContext) -> None:
    """A press on a language button: store, answer the press, show the confirmation."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None or not isinstance(context.match, re.Match):
        return
    lang_code = context.match["value"]
    if lang_code not in CATALOGS:
        await query.answer(raw(lang(update, context), "stale_button"))
        return
    await _store(context, user.id, lang_code)
    confirmation = t(lang_code, "language_set")
    try:
        await query.answer(confirmation)
    except TelegramError as exc:  # a late or lost answer must not skip the confirmation
        log.info("answer to a language press failed: %s", exc)
    try:
        await query.edit_message_text(confirmation)
    except BadRequest as exc:  # e.g. pressed twice: "message is not modified"
        log.info("language confirmation not edited: %s", exc)


async def _store(context: BotContext, user_id: int, lang_code: str) -> None:
    await context.accounts.set_language(user_id, lang_code)
