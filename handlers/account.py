"""/balance, /jobs and /resend."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import Message, Update

from bot.ids import parse_id
from bot.models import Job
from bot.telegram import keyboards
from bot.telegram.messenger import Target
from bot.texts import Markup, cut, date_label, escaped, raw, t
from handlers.context import BotContext, lang, thread_of
from handlers.payments import balance_extras

PROMPT_SNIPPET = 40  # characters of the description shown per line of /jobs
LANGUAGE_ZONES = {"ru": "Europe/Moscow"}  # where most speakers of the language live


async def balance(update: Update, context: BotContext) -> None:
    """Credits left today, granted credits, and when the daily part resets."""
    msg, user = update.effective_message, update.effective_user
    if msg is None or user is None:
        return
    language = lang(update, context)
    bal = await context.jobs.balance(user.id)
    if bal.unlimited:
        await msg.reply_text(t(language, "balance_unlimited"))
        return
    left = max(int(bal.resets_at.timestamp() - context.accounts.now()), 0)
    reset_in = t(language, "duration_h_min", h=left // 3600, m=left % 3600 // 60)
    extra, markup = await balance_extras(update, context, bal)  # issue 15: bought, Top up, share
    await msg.reply_text(
        t(
            language,
            "balance",
            daily=bal.daily,
            quota=bal.daily_quota,
            granted=bal.granted,
            total=bal.total,
            reset_in=reset_in,
        )
        + extra,
        reply_markup=markup,
    )


async def jobs(update: Update, context: BotContext) -> None:
    """The user's recent videos: a short numbered list with the description and a date in
    their time zone, and a "Send again" button under it for each delivered video."""
    msg, user = update.effective_message, update.effective_user
    if msg is None or user is None:
        return
    language = lang(update, context)
    recent = await context.jobs.recent(user.id)
    if not recent:
        await msg.reply_text(t(language, "jobs_empty"))
        return
    zone = display_zone(language, context.config.display_timezone)
    lines = [t(language, "jobs_header")]
    resend: list[tuple[int, int]] = []
    for number, job in enumerate(recent, start=1):
        when = date_label(language, datetime.fromtimestamp(job.created_at, zone))
        if zone.key == "UTC":
            when += " UTC"
        status = raw(language, f"status_word_{job.status.value}")
        shown = job.prompt.strip()
        prompt = (
            escaped(cut(shown, PROMPT_SNIPPET))
            if shown
            else Markup(raw(language, "jobs_no_prompt"))
        )
        line = t(language, "jobs_line", n=number, status=status, when=when, prompt=prompt)
        if job.seed is not None:  # issue 11: the seed that "Again, same seed" reuses
            line += t(language, "jobs_seed", seed=job.seed)
        lines.append(line)
        if job.video_file_id:
            resend.append((number, job.id))
    await msg.reply_text(
        "\n".join(lines), reply_markup=keyboards.resend_keyboard(language, resend)
    )


def display_zone(language: str, configured: str | None) -> ZoneInfo:
    """DISPLAY_TIMEZONE when set; otherwise Moscow time for Russian speakers, UTC for others."""
    if configured:
        return ZoneInfo(configured)
    return ZoneInfo(LANGUAGE_ZONES.get(language, "UTC"))


async def on_resend_button(update: Update, context: BotContext, job: Job) -> None:
    """ "▶️ Send again" under /jobs: the video again, in the chat where the button was pressed."""
    query = update.callback_query
    assert query is not None and query.message is not None
    language = lang(update, context)
    thread = query.message.message_thread_id if isinstance(query.message, Message) else None
    target = Target(query.message.chat.id, thread, None)
    sent = await context.jobs.resend(job.user_id, job.id, target)
    await query.answer(None if sent else raw(language, "resend_gone"))


async def resend(update: Update, context: BotContext) -> None:
    """/resend <id>: send a delivered video again from Telegram's copy."""
    msg, user = update.effective_message, update.effective_user
    if msg is None or user is None:
        return
    language = lang(update, context)
    args = context.args or []
    job_id = parse_id(args[0].removeprefix("#")) if len(args) == 1 else None
    if job_id is None:
        await msg.reply_text(t(language, "resend_usage"))
        return
    target = Target(msg.chat_id, thread_of(update), msg.message_id)
    if not await context.jobs.resend(user.id, job_id, target):
        await msg.reply_text(t(language, "resend_not_found", id=job_id))
