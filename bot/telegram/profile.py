"""What Telegram shows before anyone talks to the bot: the "/" menus and the descriptions.

Per language (English by default, Russian for Russian-speaking clients) and per scope: private
chats get every user command, groups only what works there (/video, /help). The description is
the text on the empty chat screen; the short description shows on the bot's profile and in
shared links. Telegram picks the entry whose `language_code` matches the user's client.
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeAllGroupChats
from telegram.error import TelegramError

from bot.texts import CATALOGS, DEFAULT_LANGUAGE, raw

log = logging.getLogger(__name__)

PRIVATE_COMMANDS = ("start", "help", "balance", "jobs", "language")
GROUP_COMMANDS = ("video", "help")
# Shown only when CREDIT_PACKS sells something; Telegram asks payment bots for the last two.
PAYMENT_COMMANDS = ("buy", "paysupport", "terms")


def commands(lang: str, names: tuple[str, ...]) -> list[BotCommand]:
    return [BotCommand(name, raw(lang, f"cmd_{name}")) for name in names]


async def publish_profile(bot: Bot, *, payments: bool = False) -> None:
    """Set the menus and descriptions in every language; a refusal is logged, never fatal."""
    for lang in CATALOGS:
        code = None if lang == DEFAULT_LANGUAGE else lang  # None: every language without its own
        try:
            private = PRIVATE_COMMANDS + (PAYMENT_COMMANDS if payments else ())
            await bot.set_my_commands(commands(lang, private), language_code=code)
            await bot.set_my_commands(
                commands(lang, GROUP_COMMANDS),
                scope=BotCommandScopeAllGroupChats(),
                language_code=code,
            )
            await bot.set_my_description(raw(lang, "bot_description"), language_code=code)
            await bot.set_my_short_description(
                raw(lang, "bot_short_description"), language_code=code
            )
        except TelegramError as exc:
            log.info("publishing the bot's menus in %s failed (not fatal): %s", lang, exc)
