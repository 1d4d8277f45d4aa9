"""The handlers' typed `CallbackContext`: `context.jobs`, `context.accounts`, `context.config`...

PTB builds one `BotContext` per update (`CONTEXT_TYPES`, given to the `ApplicationBuilder` by
`bot/runtime.py`); its `bot_data` is a `BotData`, which the runtime fills once with the services
(`BotData.wire`). So a handler reaches everything through typed properties, never through string
keys, and everything it changes goes through one service call.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import CallbackContext, ContextTypes, ExtBot

from bot.jobs.accounts import AccountService
from bot.jobs.service import JobService
from bot.payments.referrals import Referrals
from bot.payments.service import PaymentService
from bot.texts import language_for


@dataclass(frozen=True)
class HandlerConfig:
    """Operator settings the handlers apply."""

    admin_ids: frozenset[int] = frozenset()
    group_mode: str = "open"  # open / admins-only / off
    allowed_chat_ids: frozenset[int] = frozenset()
    daily_quota: int = 5
    display_timezone: str | None = None  # DISPLAY_TIMEZONE; unset: per language (see account)


@dataclass(frozen=True)
class PayTexts:
    """Operator-edited /paysupport and /terms texts (None: the built-in ones)."""

    paysupport: str | None = None
    terms: str | None = None


@dataclass(frozen=True)
class HandlerServices:
    """Everything the handlers use, built by the composition root."""

    jobs: JobService
    accounts: AccountService
    config: HandlerConfig
    payments: PaymentService | None = None  # issue 15: Stars; None when not wired
    referrals: Referrals | None = None
    pay_texts: PayTexts = PayTexts()


class BotData:
    """`context.bot_data`: the wired services plus the little state handlers keep between
    updates (PTB creates it empty; the runtime calls `wire` before the first update)."""

    def __init__(self) -> None:
        self._services: HandlerServices | None = None
        # Media groups already answered, as (chat id, media group id); oldest first.
        self.albums_seen: OrderedDict[tuple[int, str], bool] = OrderedDict()
        # The /start sample clip once Telegram has it: re-sent by file id, never re-rendered.
        self.sample_clip_file_id: str | None = None

    def wire(self, services: HandlerServices) -> None:
        self._services = services

    @property
    def services(self) -> HandlerServices:
        if self._services is None:
            raise RuntimeError("handlers used before bot/runtime.py wired their services")
        return self._services


class BotContext(CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], BotData]):
    """The context every handler gets: typed properties for the services."""

    @property
    def jobs(self) -> JobService:
        return self.bot_data.services.jobs

    @property
    def accounts(self) -> AccountService:
        return self.bot_data.services.accounts

    @property
    def config(self) -> HandlerConfig:
        return self.bot_data.services.config

    @property
    def payments(self) -> PaymentService | None:
        return self.bot_data.services.payments

    @property
    def referrals(self) -> Referrals | None:
        return self.bot_data.services.referrals

    @property
    def pay_texts(self) -> PayTexts:
        return self.bot_data.services.pay_texts


CONTEXT_TYPES = ContextTypes(context=BotContext, bot_data=BotData)


def lang(update: Update, context: BotContext) -> str:
    """The user's chosen language (/language), else their Telegram client's, else English."""
    user = update.effective_user
    if user is None:
        return "en"
    chosen = context.accounts.cached_language(user.id)
    return chosen or language_for(user.language_code)


def thread_of(update: Update) -> int | None:
    """Keep replies in the forum topic the message came from."""
    msg = update.effective_message
    if msg is None or not msg.is_topic_message:
        return None
    return msg.message_thread_id
