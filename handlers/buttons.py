"""Inline button presses: parse, check who pressed, answer at once, then do the work.

The answer and the work are independent: Telegram may refuse a late answer ("query is too old")
or lose it on the network, and the work (a paid job's submission) must run all the same.
"""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Update
from telegram.error import TelegramError

from bot.jobs.service import JobService, Reply
from bot.models import Job
from bot.telegram import keyboards
from bot.texts import raw
from handlers import account, start
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
    if action is not None and action.verb == "t" and action.args:  # a /start preset
        await start.on_preset_button(update, context, action.args[0])
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
    if action.verb == "s":  # /jobs: send a video again, here
        await account.on_resend_button(update, context, job)
        return
    # _dispatch only touches the database, so the answer still goes out at once.
    reply = await _dispatch(svc, job, action)
    try:
        await _answer(query, reply.text, alert=reply.alert)
    finally:
        # Whatever happened to the answer (refused, lost, cancelled), the work runs: a
        # Generate whose answer failed must still submit the reserved job.
        if reply.then is not None:
            await reply.then


async def _answer(query: CallbackQuery, text: str | None, *, alert: bool) -> None:
    """Answer a press; a refused or lost answer only costs the user the toast."""
    try:
        await query.answer(text, show_alert=alert)
    except TelegramError as exc:
        log.info("answer to a button press failed: %s", exc)


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
        case "e", ():
            return await svc.expand(job)
        case ("r", ()) | ("a", ()):
            return await svc.again(job, generate=True)
        case "c", ():
            return await svc.again(job, generate=False)
        case "d", ():  # issue 11: "Again, same seed"
            return await svc.again(job, generate=True, same_seed=True)
    return Reply(raw(job.language, "stale_button"))
