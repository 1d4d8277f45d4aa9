"""Inline button presses: parse, check who pressed, answer at once, then do the work."""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Update
from telegram.error import BadRequest

from bot.jobs.service import JobService, Reply
from bot.models import Job
from bot.telegram import keyboards
from bot.texts import raw
from handlers import language as language_handlers
from handlers.context import Context, lang, service

log = logging.getLogger(__name__)


async def on_button(update: Update, context: Context) -> None:
    """Every press is answered exactly once; stale or forged data gets a short notice."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None:
        return
    language = lang(update, context)
    action = keyboards.parse(query.data)
    if action is not None and action.verb == "l" and action.args:
        await language_handlers.on_language_button(update, context, action.args[0])
        return
    svc = service(context)
    job = await svc.job(action.job_id) if action else None
    if action is None or job is None:
        await _answer(query, raw(language, "stale_button"), alert=False)
        return
    if job.user_id != user.id:
        await _answer(query, raw(language, "not_your_button"), alert=True)
        return
    if job.status_message_id is None and query.message is not None:
        # A crash came between sending this message and recording it: it is the status message.
        job = await svc.adopt_status_message(job, query.message.message_id)
    reply = await _dispatch(svc, job, action)
    await _answer(query, reply.text, alert=reply.alert)
    if reply.then is not None:
        await reply.then


async def _answer(query: CallbackQuery, text: str | None, *, alert: bool) -> None:
    """Answer the press; a query Telegram no longer accepts (older than its answer window, e.g.
    a press handled again after a restart) is not an error: the work still gets done."""
    try:
        await query.answer(text, show_alert=alert)
    except BadRequest as exc:
        log.info("callback query %s not answered: %s", query.id, exc.message)


async def _dispatch(svc: JobService, job: Job, action: keyboards.Action) -> Reply:
    match action.verb, action.args:
        case "o", (name, value):
            return await svc.choose(job, name, value)
        case "m", (model,):
            return await svc.choose(job, "model", model)
        case ("g", ()) | ("p", ()):  # "No prompt": generate, the model improvises
            return await svc.generate(job)
        case "x", ():
            return await svc.cancel(job)
        case ("r", ()) | ("a", ()):
            return await svc.again(job, generate=True)
        case "c", ():
            return await svc.again(job, generate=False)
    return Reply(raw(job.language, "stale_button"))
