"""Operator commands (/stats, /grant, /ban, /unban) and the ban gate in front of every handler.

Only ADMIN_USER_IDS may use the commands: `register` gates them with `filters.User`, so anyone
else falls through to what any unknown command gets (the "unknown command" reply in a private
chat, silence in a group), and the commands are not discoverable. The ban gate runs first for
every update (a `TypeHandler` in group -1): it records the user, loads their stored language, and
for a banned user sends one polite notice per ban, then stops the update
(`ApplicationHandlerStop`), so nothing else ever answers them.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import UTC, datetime

from telegram import Update, User
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, BaseHandler, CommandHandler, filters

from bot.ids import parse_id
from bot.jobs.accounts import CostRow, PeriodStats, Stats
from bot.models import FailureReason, JobStatus
from bot.texts import language_for, raw, t
from bot.texts.en import EN
from handlers.context import BotContext, lang
from handlers.payments import stats_block

log = logging.getLogger(__name__)

MAX_GRANT = 1_000_000
_STATE_ORDER = {s.value: i for i, s in enumerate(JobStatus)}
_FAILURE_ORDER = {reason: i for i, reason in enumerate(FailureReason)}


def admin_handlers(admin_ids: Collection[int]) -> list[BaseHandler[Update, BotContext, None]]:
    """The operator commands, answered only for ADMIN_USER_IDS (an empty list: for nobody)."""
    # New messages only: an edited "/grant 1 5" must not grant again.
    admins = filters.UpdateType.MESSAGE & filters.User(user_id=admin_ids)
    return [
        CommandHandler("stats", stats, filters=admins),
        CommandHandler("grant", grant, filters=admins),
        CommandHandler("ban", ban, filters=admins),
        CommandHandler("unban", unban, filters=admins),
    ]


def _user_id_arg(text: str) -> int | None:
    return parse_id(text)


async def stats(update: Update, context: BotContext) -> None:
    """/stats: today and the last 7 days."""
    msg = update.effective_message
    if msg is None:
        return
    figures = await context.accounts.figures()
    titles = {key: spec.title for key, spec in context.jobs.models.items()}
    language = lang(update, context)
    stars = await stats_block(context, language, figures.now)  # issue 15: Stars per day
    parts = [
        format_stats(figures.stats, language, titles),
        format_costs(figures.costs, language, titles),  # issue 11
    ]
    await msg.reply_text("\n\n".join([*parts, stars] if stars else parts))


async def grant(update: Update, context: BotContext) -> None:
    """/grant <user_id> <credits>: credits that do not expire."""
    msg, admin = update.effective_message, update.effective_user
    if msg is None or admin is None:
        return
    language = lang(update, context)
    args = context.args or []
    user_id = _user_id_arg(args[0]) if len(args) == 2 else None
    amount = parse_id(args[1]) if len(args) == 2 else None
    if user_id is None or amount is None or amount > MAX_GRANT:
        await msg.reply_text(t(language, "admin_usage_grant"))
        return
    balance = await context.accounts.grant(user_id, amount, admin_id=admin.id)
    await msg.reply_text(
        t(language, "admin_granted", n=amount, user=str(user_id), total=balance.total)
    )


async def ban(update: Update, context: BotContext) -> None:
    """/ban <user_id>: from the next update on, one notice, then silence."""
    await _set_ban(update, context, banned=True)


async def unban(update: Update, context: BotContext) -> None:
    """/unban <user_id>."""
    await _set_ban(update, context, banned=False)


async def _set_ban(update: Update, context: BotContext, *, banned: bool) -> None:
    msg, admin = update.effective_message, update.effective_user
    if msg is None or admin is None:
        return
    language = lang(update, context)
    args = context.args or []
    user_id = _user_id_arg(args[0]) if len(args) == 1 else None
    if user_id is None:
        await msg.reply_text(t(language, "admin_usage_ban"))
        return
    if banned and user_id in context.config.admin_ids:
        await msg.reply_text(t(language, "admin_cannot_ban_admin", user=str(user_id)))
        return
    if banned:
        await context.accounts.ban(user_id)
    else:
        await context.accounts.unban(user_id)
    log.info("admin %s %s user %s", admin.id, "banned" if banned else "unbanned", user_id)
    key = "admin_banned" if banned else "admin_unbanned"
    await msg.reply_text(t(language, key, user=str(user_id)))


async def ban_gate(update: Update, context: BotContext) -> None:
    """Group -1, every update: record the user; a banned one gets one notice, then silence."""
    user = update.effective_user
    if user is None:
        return
    record = await context.accounts.seen(user.id, user.language_code)
    if record is None or not record.banned or user.id in context.config.admin_ids:
        return
    try:
        await _notify_banned(update, context, user, record.language)
    except TelegramError as exc:
        log.info("could not send the ban notice to user %s: %s", user.id, exc)
    raise ApplicationHandlerStop


async def _notify_banned(
    update: Update, context: BotContext, user: User, chosen: str | None
) -> None:
    language = chosen or language_for(user.language_code)
    accounts = context.accounts
    query = update.callback_query
    if query is not None:
        # Always answer a press (or the client spins); only the first one says why.
        notify = await accounts.should_notify_ban(user.id)
        await query.answer(raw(language, "banned") if notify else None, show_alert=notify)
        return
    chat, msg = update.effective_chat, update.effective_message
    # In groups a banned user's messages are ignored silently, like any chatter.
    if chat is None or msg is None or chat.type != ChatType.PRIVATE:
        return
    if await accounts.should_notify_ban(user.id):
        await msg.reply_text(t(language, "banned"))


def format_duration(language: str, seconds: float) -> str:
    """ "42 s", "3 min 5 s", "2 h 10 min" in the user's language."""
    total = max(round(seconds), 0)
    if total < 60:
        return t(language, "unit_seconds", n=total)
    if total < 3600:
        return t(language, "duration_min_s", m=total // 60, s=total % 60)
    return t(language, "duration_h_min", h=total // 3600, m=total % 3600 // 60)


def format_stats(collected: Stats, language: str, titles: Mapping[str, str]) -> str:
    """The /stats message (HTML; every inserted value escaped by `t`)."""
    now = datetime.fromtimestamp(collected.now, UTC).strftime("%Y-%m-%d %H:%M")
    parts = [t(language, "admin_stats_title", now=now)]
    for key, period in (
        ("admin_stats_today", collected.today),
        ("admin_stats_week", collected.week),
    ):
        parts.append(_format_period(raw(language, key), period, language, titles))
    return "\n\n".join(parts)


def _format_period(
    title: str, period: PeriodStats, language: str, titles: Mapping[str, str]
) -> str:
    since = datetime.fromtimestamp(period.start, UTC).strftime("%Y-%m-%d")
    lines = [t(language, "admin_stats_period", title=title, since=since, jobs=period.total_jobs)]
    for model, states in sorted(period.jobs.items()):
        ordered = sorted(states.items(), key=lambda item: _STATE_ORDER.get(item[0], 99))
        described = ", ".join(f"{_state_word(language, s)} {n}" for s, n in ordered)
        lines.append(
            t(language, "admin_stats_model", model=titles.get(model, model), states=described)
        )
    # In the vocabulary's order (the user's part first); a kind an older version wrote, last.
    failures = sorted(period.failures.items(), key=lambda item: _failure_order(item[0]))
    kinds = ", ".join(f"{kind} {n}" for kind, n in failures)
    lines.append(
        t(language, "admin_stats_failures", kinds=kinds or raw(language, "admin_stats_none"))
    )
    lines.append(t(language, "admin_stats_credits", n=period.credits_spent))
    if period.median_time_to_video_s is None:
        lines.append(t(language, "admin_stats_median_none"))
    else:
        duration = format_duration(language, period.median_time_to_video_s)
        lines.append(t(language, "admin_stats_median", duration=duration, n=period.delivered))
    return "\n".join(lines)


def _failure_order(kind: str) -> int:
    reason = FailureReason.parse(kind)
    return _FAILURE_ORDER[reason] if reason is not None else len(_FAILURE_ORDER)


def _state_word(language: str, state: str) -> str:
    key = f"status_word_{state}"
    return raw(language, key) if key in EN else state


def format_costs(rows: list[CostRow], language: str, titles: Mapping[str, str]) -> str:
    """Provider cost per model and provider, per delivered video, next to credits charged."""
    lines = [t(language, "admin_stats_cost_title")]
    if not rows:
        return "\n".join([*lines, t(language, "admin_stats_cost_none")])
    for row in rows:
        per_video = row.per_video
        lines.append(
            t(
                language,
                "admin_stats_cost",
                model=titles.get(row.model, row.model),
                provider=row.provider,
                jobs=row.jobs,
                delivered=row.delivered,
                cost=_amount(row.cost) if row.costed else "—",
                per_video=_amount(per_video) if per_video is not None else "—",
                credits=row.credits,
            )
        )
    return "\n".join(lines)


def _amount(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:g}"
