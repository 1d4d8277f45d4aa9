"""What a job looks like in a chat: the options message, the status message, the caption."""

from __future__ import annotations

import html
import time

from telegram import InlineKeyboardMarkup

from bot.catalog import ModelSpec
from bot.models import ErrorKind, Job, JobStatus
from bot.storage import Balance
from bot.telegram import keyboards
from bot.texts import credits_label, cut, describe_options, raw, t

CAPTION_LIMIT = 1024
PROMPT_PREVIEW = 300


def price_label(lang: str, price: int) -> str:
    return credits_label(lang, price)


def prompt_preview(lang: str, prompt: str) -> str:
    """The prompt for display, already escaped; a placeholder when empty."""
    return _escape(cut(prompt, PROMPT_PREVIEW)) if prompt.strip() else raw(lang, "no_prompt")


def options_view(
    job: Job, models: dict[str, ModelSpec], price: int, balance: Balance | None
) -> tuple[str, InlineKeyboardMarkup]:
    lang = job.language
    spec = models[job.model]
    balance_text = "∞" if balance is None or balance.unlimited else str(balance.total)
    text = t(
        lang,
        "options",
        prompt="\x00",
        model=spec.title,
        price=price_label(lang, price),
        balance=balance_text,
    ).replace("\x00", prompt_preview(lang, job.prompt))
    markup = keyboards.options_keyboard(
        lang, job.id, models, job.model, job.options, price_label(lang, price),
        offer_no_prompt=not job.prompt and not spec.prompt_required,
    )  # fmt: skip
    return text, markup


def status_text(job: Job, title: str, *, refunded: int = 0, now: float | None = None) -> str:
    """The status message body for a job in any state."""
    lang = job.language
    opts = describe_options(lang, job.options)
    now = time.time() if now is None else now
    refund = t(lang, "refunded", credits=credits_label(lang, refunded)) if refunded else ""
    match job.status:
        case JobStatus.RESERVED | JobStatus.SUBMITTING:
            return t(lang, "status_reserved", model=title, options=opts, prompt="\x00").replace(
                "\x00", prompt_preview(lang, job.prompt)
            )
        case JobStatus.SUBMITTED:
            started = job.submitted_at or job.created_at
            eta = ""
            if job.eta_s:
                left = max(int(job.eta_s - (now - started)), 0)
                eta = t(lang, "eta", eta=_duration(left)) if left else ""
            progress = t(lang, "progress", pct=job.progress) if job.progress else ""
            return t(
                lang,
                "status_submitted",
                progress=progress,
                elapsed=_duration(int(now - started)),
                eta=eta,
                model=title,
                options=opts,
                prompt="\x00",
            ).replace("\x00", prompt_preview(lang, job.prompt))
        case JobStatus.DOWNLOADING:
            # The local renderer's video is already on disk: nothing is downloaded.
            key = "status_preparing" if job.provider == "local" else "status_downloading"
            return t(lang, key, model=title, options=opts)
        case JobStatus.SENDING:
            return t(lang, "status_sending", model=title, options=opts)
        case JobStatus.DELIVERED:
            return t(lang, "status_delivered", model=title, options=opts)
        case JobStatus.CANCELLED:
            return t(lang, "status_cancelled", refund=refund)
        case JobStatus.EXPIRED:
            return t(lang, "status_expired", refund=refund)
        case _:
            return t(lang, "status_failed", reason=failure_reason(job), refund=refund)


def failure_reason(job: Job) -> str:
    lang = job.language
    key = {
        ErrorKind.CONTENT_POLICY.value: "fail_content_policy",
        ErrorKind.VALIDATION.value: "fail_validation",
        ErrorKind.TIMEOUT.value: "fail_timeout",
        ErrorKind.UPSTREAM.value: "fail_upstream",
        "unavailable": "fail_unavailable",
        "unknown_outcome": "fail_unknown_outcome",
        "download": "fail_download",
        "send": "fail_send",
    }.get(job.error_kind or "", "fail_upstream")
    return raw(lang, key)


def status_markup(job: Job) -> InlineKeyboardMarkup | None:
    if job.status in (JobStatus.RESERVED, JobStatus.SUBMITTING, JobStatus.SUBMITTED):
        return keyboards.status_keyboard(job.language, job.id)
    if job.status in (JobStatus.FAILED, JobStatus.EXPIRED):
        return keyboards.retry_keyboard(job.language, job.id)
    return None


def caption(job: Job, title: str) -> str:
    """Prompt + options under the video, escaped, within Telegram's 1024 characters."""
    lang = job.language
    opts = describe_options(lang, job.options)
    frame = t(lang, "caption", prompt="\x00", model=title, options=opts)
    return fill_bounded(frame, job.prompt.strip(), CAPTION_LIMIT, empty="🎬")


def fill_bounded(frame: str, text: str, limit: int, *, empty: str = "") -> str:
    """`frame` (HTML with one NUL placeholder) with the plain `text` escaped into it.

    Telegram's limits count the text *after* entity parsing, where `&amp;` is one character and
    tags are none, so the visible length is at most the markup length. The user text is cut to the
    room left before it is escaped, in one step: the cost is linear in the input whatever it holds
    (escaping can multiply its length by five, which must never feed back into the cut), and
    the markup is never sliced, so a tag or an entity is never cut in half.
    """
    room = limit - (len(frame) - 1)
    if not text or room <= 0:
        return frame.replace("\x00", empty)
    return frame.replace("\x00", _escape(cut(text[: room + 1], room)))


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def _duration(seconds: int) -> str:
    minutes, secs = divmod(max(seconds, 0), 60)
    return f"{minutes}:{secs:02d}" if minutes else f"{secs}s"
