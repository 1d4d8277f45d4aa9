"""/language: the user picks English or Russian; the choice is stored and wins over the client's.

The buttons carry `l|0|<code>`; the button dispatcher calls `on_language_button`. `/language ru`
sets it directly. The store is the `UserStore` in `bot_data["users"]`; the sync `lang()` helper
of `handlers.context` reads `HandlerConfig.languages`, which `remember_language` keeps current
(the ban gate fills it from the database on each user's first update after a restart).
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update, User
from telegram.error import BadRequest, TelegramError

from bot.storage.users import UserStore
from bot.telegram import keyboards
from bot.texts import CATALOGS, language_for, raw, t
from handlers.context import Context, config, lang

log = logging.getLogger(__name__)

USERS_KEY = "users"
VERB = "l"


def users(context: Context) -> UserStore | None:
    """The UserStore the runtime put in bot_data (None when not wired)."""
    store = context.bot_data.get(USERS_KEY)
    return store if isinstance(store, UserStore) else None


def remember_language(context: Context, user_id: int, language: str | None) -> None:
    """Keep the in-memory copy `handlers.context.lang()` reads in step with the database."""
    if language is not None and language in CATALOGS:
        config(context).languages[user_id] = language


async def user_language(context: Context, user: User) -> str:
    """The user's stored /language choice, else their Telegram client's language, else English."""
    store = users(context)
    stored = await store.language(user.id) if store is not None else None
    if stored in CATALOGS:
        remember_language(context, user.id, stored)
        return stored
    return language_for(user.language_code)


def language_keyboard() -> InlineKeyboardMarkup:
    """One button per catalog, each labelled in its own language."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    raw(code, "language_name"), callback_data=keyboards.encode(VERB, 0, code)
                )
                for code in CATALOGS
            ]
        ]
    )


async def language_command(update: Update, context: Context) -> None:
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


async def on_language_button(update: Update, context: Context, lang_code: str) -> None:
    """A press on a language button: store, answer the press, show the confirmation.

    Answers the callback query itself; the dispatcher must not answer it again.
    """
    query, user = update.callback_query, update.effective_user
    if query is None or user is None:
        return
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


async def _store(context: Context, user_id: int, lang_code: str) -> None:
    store = users(context)
    if store is not None:
        await store.set_language(user_id, lang_code)
    else:
        log.warning("no UserStore in bot_data: /language choice kept in memory only")
    remember_language(context, user_id, lang_code)
