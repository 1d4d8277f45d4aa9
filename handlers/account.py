"""/balance, /jobs and /resend."""

from __future__ import annotations

from datetime import UTC, datetime

from telegram import Update

from bot.ids import parse_id
from bot.telegram.messenger import Target
from bot.texts import raw, t
from handlers.context import Context, lang, service, thread_of


async def balance(update: Update, context: Context) -> None:
    """Credits left today, granted credits, and when the daily part resets."""
    msg, user = update.effective_message, update.effective_user
    if msg is None or user is None:
        return
    language = lang(update, context)
    bal = await service(context).balance(user.id)
    if bal.unlimited:
        await msg.reply_text(t(language, "balance_unlimited"))
        return
    left = max(int(bal.resets_at.timestamp() - service(context).ctx.clock()), 0)
    reset_in = t(language, "duration_h_min", h=left // 3600, m=left % 3600 // 60)
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
    )


async def jobs(update: Update, context: Context) -> None:
    """The user's recent jobs with their state."""
    msg, user = update.effective_message, update.effective_user
    if msg is None or user is None:
        return
    language = lang(update, context)
    recent = await service(context).recent(user.id)
    if not recent:
        await msg.reply_text(t(language, "jobs_empty"))
        return
    models = service(context).models
    lines = [t(language, "jobs_header")]
    for job in recent:
        when = datetime.fromtimestamp(job.created_at, UTC).strftime("%m-%d %H:%M UTC")
        title = models[job.model].title if job.model in models else job.model
        status = raw(language, f"status_word_{job.status.value}")
        lines.append(t(language, "jobs_line", id=job.id, status=status, model=title, when=when))
    await msg.reply_text("\n".join(lines))


async def resend(update: Update, context: Context) -> None:
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
    if not await service(context).resend(user.id, job_id, target):
        await msg.reply_text(t(language, "resend_not_found", id=job_id))
