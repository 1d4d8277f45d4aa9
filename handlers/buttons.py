"""Inline button presses: one `CallbackQueryHandler` per verb, routed by `pattern=`.

A job button is checked (the job exists, the presser owns it), answered at once, then its work
runs. The answer and the work are independent: Telegram may refuse a late answer ("query is too
old") or lose it on the network, and the work (a paid job's submission) must run all the same.
Anything no pattern matches (stale or forged data) gets a short "stale button" notice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import CallbackQuery, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot.jobs.service import JobService, Reply
from bot.models import Job
from bot.telegram.keyboards import Action, Verb, choice_pattern, job_pattern, parse
from bot.texts import raw
from handlers import account, start
from handlers import language as language_handlers
from handlers.context import BotContext, lang

log = logging.getLogger(__name__)

JobAction = Callable[[JobService, Job, tuple[str, ...]], Awaitable[Reply]]

# What each job verb asks of the job service; the reply is the press's answer.
JOB_ACTIONS: dict[Verb, JobAction] = {
    Verb.OPTION: lambda svc, job, args: svc.choose(job, args[0], args[1]),
    Verb.MODEL: lambda svc, job, args: svc.choose(job, "model", args[0]),
    Verb.GENERATE: lambda svc, job, _: svc.generate(job),
    Verb.NO_PROMPT: lambda svc, job, _: svc.generate(job),
    Verb.CANCEL: lambda svc, job, _: svc.cancel(job),
    Verb.EXPAND: lambda svc, job, _: svc.expand(job),
    Verb.RETRY: lambda svc, job, _: svc.again(job, generate=True),
    Verb.AGAIN: lambda svc, job, _: svc.again(job, generate=True),
    Verb.CHANGE: lambda svc, job, _: svc.again(job, generate=False),
    Verb.SAME_SEED: lambda svc, job, _: svc.again(job, generate=True, same_seed=True),
}


def button_handlers() -> list[BaseHandler[Update, BotContext, None]]:
    """Every button, in order: the choices, the job verbs, then the stale catch-all."""
    found: list[BaseHandler[Update, BotContext, None]] = [
        CallbackQueryHandler(
            language_handlers.on_language_button, pattern=choice_pattern(Verb.LANGUAGE)
        ),
        CallbackQueryHandler(start.on_preset_button, pattern=choice_pattern(Verb.PRESET)),
        CallbackQueryHandler(_job_button(_resend), pattern=job_pattern(Verb.RESEND)),
    ]
    found += [
        CallbackQueryHandler(_job_button(_dispatching(action)), pattern=job_pattern(verb))
        for verb, action in JOB_ACTIONS.items()
    ]
    found.append(CallbackQueryHandler(on_stale))
    return found


JobButton = Callable[[Update, BotContext, Job, Action], Awaitable[None]]


def _job_button(then: JobButton) -> Callable[[Update, BotContext], Coroutine[Any, Any, None]]:
    """Find the pressed job and check who pressed before `then` answers and works."""

    async def on_press(update: Update, context: BotContext) -> None:
        query, user = update.callback_query, update.effective_user
        if query is None or user is None:
            return
        action = parse(query.data)
        job = await context.jobs.job(action.job_id) if action else None
        if action is None or job is None:
            await _answer(query, raw(lang(update, context), "stale_button"), alert=False)
            return
        if job.user_id != user.id:
            await _answer(query, raw(lang(update, context), "not_your_button"), alert=True)
            return
        if job.status_message_id is None and query.message is not None:
            # A crash came between sending this message and recording it: it is the status
            # message.
            job = await context.jobs.adopt_status_message(job, query.message.message_id)
        await then(update, context, job, action)

    return on_press


async def _resend(update: Update, context: BotContext, job: Job, _: Action) -> None:
    await account.on_resend_button(update, context, job)


def _dispatching(action: JobAction) -> JobButton:
    async def run(update: Update, context: BotContext, job: Job, pressed: Action) -> None:
        query = update.callback_query
        assert query is not None
        # The service only touches the database here, so the answer still goes out at once.
        reply = await action(context.jobs, job, pressed.args)
        try:
            await _answer(query, reply.text, alert=reply.alert)
        finally:
            # Whatever happened to the answer (refused, lost, cancelled), the work runs: a
            # Generate whose answer failed must still submit the reserved job.
            if reply.then is not None:
                await reply.then

    return run


async def on_stale(update: Update, context: BotContext) -> None:
    """Data none of our patterns matches: an old or forged button."""
    if update.callback_query is not None:
        await _answer(
            update.callback_query, raw(lang(update, context), "stale_button"), alert=False
        )


async def _answer(query: CallbackQuery, text: str | None, *, alert: bool) -> None:
    """Answer a press; a refused or lost answer only costs the user the toast."""
    try:
        await query.answer(text, show_alert=alert)
    except TelegramError as exc:
        log.info("answer to a button press failed: %s", exc)
