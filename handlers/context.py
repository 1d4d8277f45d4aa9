"""Typed access to what `bot/runtime.py` puts in `bot_data`; small helpers shared by handlers."""

from __future__ import annotations

from dataclasses import dataclass, field

from telegram import Update
from telegram.ext import ContextTypes

from bot.jobs.service import JobService
from bot.texts import language_for

SERVICE_KEY = "service"
CONFIG_KEY = "handler_config"

Context = ContextTypes.DEFAULT_TYPE


@dataclass(frozen=True)
class HandlerConfig:
    """Operator settings the handlers apply."""

    admin_ids: frozenset[int] = frozenset()
    group_mode: str = "open"  # open / admins-only / off
    allowed_chat_ids: frozenset[int] = frozenset()
    daily_quota: int = 5
    languages: dict[int, str] = field(default_factory=dict)
    display_timezone: str | None = None  # DISPLAY_TIMEZONE; unset: per language (see account)


def service(context: Context) -> JobService:
    svc = context.bot_data[SERVICE_KEY]
    assert isinstance(svc, JobService)
    return svc


def config(context: Context) -> HandlerConfig:
    cfg = context.bot_data.get(CONFIG_KEY)
    return cfg if isinstance(cfg, HandlerConfig) else HandlerConfig()


def lang(update: Update, context: Context) -> str:
    """The user's chosen language (/language), else their Telegram client's, else English."""
    user = update.effective_user
    if user is None:
        return "en"
    chosen = config(context).languages.get(user.id)
    return chosen or language_for(user.language_code)


def thread_of(update: Update) -> int | None:
    """Keep replies in the forum topic the message came from."""
    msg = update.effective_message
    if msg is None or not msg.is_topic_message:
        return None
    return msg.message_thread_id
