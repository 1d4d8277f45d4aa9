"""What a job looks like in a chat: the options message, the status message, the caption."""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import dataclass

from telegram import InlineKeyboardMarkup

from bot.catalog import ModelSpec
from bot.models import FailureReason, Job, JobStatus
from bot.storage import Balance
from bot.telegram import keyboards
from bot.texts import Markup, credits_label, cut, describe_options, duration_label, escaped, raw, t

CAPTION_LIMIT = 1024
PROMPT_PREVIEW = 300


def price_label(lang: str, price: int) -> str:
    return credits_label(lang, price)


def prompt_preview(lang: str, prompt: str) -> Markup:
    """The prompt for display, already escaped; a placeholder when empty."""
    return (
        escaped(cut(prompt, PROMPT_PREVIEW)) if prompt.strip() else Markup(raw(lang, "no_prompt"))
    )


# How long a model usually takes, shown before anyone pays (the providers' own estimates:
# Grok about two minutes, HappyHorse up to forty; the local renderer well under a minute).
TYPICAL_WAIT_S = {"grok": 120, "happyhorse": 40 * 60}
LONG_WAIT_S = 15 * 60  # from here the text says "can take up to", not "usually"
SMALL_PHOTO_PX = 480  # a shorter side below this makes a soft video: say so before paying
SPICY = ("mode", "spicy")


@dataclass(frozen=True)
class OptionsScene:
    """Who looks at the options message and what the prices are."""

    price_of: Callable[[str, dict[str, str]], int]  # (model, options) -> credits for this user
    balance: Balance | None = None  # None: unlimited (admins)
    owner: str | None = None  # set in groups: whose job this is; no balance is shown there
    spicy_allowed: bool = True
    expanded: bool = False  # groups: the options were unfolded with a tap


def options_view(
    job: Job, models: dict[str, ModelSpec], scene: OptionsScene
) -> tuple[str, InlineKeyboardMarkup]:
    lang = job.language
    spec = models[job.model]
    price = scene.price_of(job.model, job.options)
    if job.prompt.strip():
        prompt = prompt_preview(lang, job.prompt)
    else:
        prompt = Markup(raw(lang, "prompt_needed" if spec.prompt_required else "no_prompt"))
    fields = {
        # in the keyboard's order: style, length, quality
        "summary": describe_options(
            lang, {o.name: job.options[o.name] for o in spec.options if o.name in job.options}
        ),
        "model": spec.title,
        "wait": typical_wait(lang, job.model),
        "price": price_label(lang, price),
    }
    if scene.owner is not None:
        text = t(lang, "options_group", prompt=prompt, owner=_name(scene.owner), **fields)
    else:
        unlimited = scene.balance is None or scene.balance.unlimited
        total = "∞" if unlimited or scene.balance is None else str(scene.balance.total)
        text = t(lang, "options", prompt=prompt, balance=total, **fields)
    width, height = job.photo_width, job.photo_height
    if not fits(spec, width, height):  # said here, before Generate, not only in an alert
        text += "\n\n" + _unfit_text(lang, spec, width, height)
    elif min(width, height) < SMALL_PHOTO_PX:
        text += "\n\n" + t(lang, "photo_small_warning", width=width, height=height)
    layout = keyboards.OptionsLayout(
        job_id=job.id,
        models=models,
        model=job.model,
        chosen=job.options,
        price=price,
        extras={
            (option.name, value): scene.price_of(job.model, {**job.options, option.name: value})
            - price
            for option in spec.options
            for value in option.values
        },
        unfit=frozenset(
            key
            for key, other in models.items()
            if not fits(other, job.photo_width, job.photo_height)
        ),
        hidden=frozenset() if scene.spicy_allowed else frozenset({SPICY}),
        compact=scene.owner is not None and not scene.expanded,
    )
    return text, keyboards.options_keyboard(lang, layout)


def fits(spec: ModelSpec, width: int, height: int) -> bool:
    """The photo meets the model's size and shape limits."""
    ratio = max(width, height) / max(min(width, height), 1)
    too_long = spec.max_aspect is not None and ratio > spec.max_aspect
    return min(width, height) >= spec.min_side_px and not too_long


def _unfit_text(lang: str, spec: ModelSpec, width: int, height: int) -> str:
    if min(width, height) < spec.min_side_px:
        return t(
            lang, "photo_too_small", width=width, height=height, model=spec.title,
            min_side=spec.min_side_px,
        )  # fmt: skip
    ratio = round(max(width, height) / max(min(width, height), 1), 2)
    return t(
        lang, "photo_too_elongated", ratio=ratio, model=spec.title, max_aspect=spec.max_aspect
    )


def typical_wait(lang: str, model: str) -> str:
    seconds = TYPICAL_WAIT_S.get(model, 60)
    if seconds <= 60:
        return raw(lang, "wait_fast")
    minutes = -(-seconds // 60)
    return t(lang, "wait_long" if seconds >= LONG_WAIT_S else "wait_minutes", m=minutes)


def status_text(
    job: Job,
    title: str,
    *,
    refunded: int = 0,
    now: float | None = None,
    owner: str | None = None,
    in_process: bool = False,
) -> str:
    """The status message body for a job in any state; in groups `owner` names whose it is;
    `in_process`: the job's provider is the built-in renderer (nothing to download)."""
    text = _status_body(job, title, refunded=refunded, now=now, in_process=in_process)
    if owner is None or job.status.is_terminal:
        return text
    first, _, rest = text.partition("\n")
    suffix = t(job.language, "owner_suffix", owner=_name(owner))
    return f"{first}{suffix}\n{rest}" if rest else f"{first}{suffix}"


def _status_body(
    job: Job, title: str, *, refunded: int, now: float | None, in_process: bool
) -> str:
    lang = job.language
    opts = describe_options(lang, job.options)
    now = time.time() if now is None else now
    refund = t(lang, "refunded", credits=credits_label(lang, refunded)) if refunded else ""
    match job.status:
        case JobStatus.RESERVED | JobStatus.SUBMITTING:
            preview = prompt_preview(lang, job.prompt)
            return t(lang, "status_reserved", model=title, options=opts, prompt=preview)
        case JobStatus.SUBMITTED:
            started = job.submitted_at or job.created_at
            eta = ""
            if job.eta_s:
                left = max(int(job.eta_s - (now - started)), 0)
                eta = t(lang, "eta", eta=duration_label(lang, left)) if left else ""
            progress = t(lang, "progress", pct=job.progress) if job.progress else ""
            return t(
                lang,
                "status_submitted",
                progress=progress,
                elapsed=duration_label(lang, int(now - started)),
                eta=eta,
                model=title,
                options=opts,
                prompt=prompt_preview(lang, job.prompt),
            )
        case JobStatus.DOWNLOADING:
            # The in-process renderer's video is already on disk: nothing is downloaded.
            key = "status_preparing" if in_process else "status_downloading"
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


# The user's words for each failure reason; every other reason reads as the provider's problem.
FAILURE_TEXTS: dict[FailureReason, str] = {
    FailureReason.CONTENT_POLICY: "fail_content_policy",
    FailureReason.VALIDATION: "fail_validation",
    FailureReason.PROMPT: "fail_prompt",  # issue 11
    FailureReason.TIMEOUT: "fail_timeout",
    FailureReason.UPSTREAM: "fail_upstream",
    FailureReason.UNAVAILABLE: "fail_unavailable",
    FailureReason.UNKNOWN_OUTCOME: "fail_unknown_outcome",
    FailureReason.DOWNLOAD: "fail_download",
    FailureReason.BROKEN_RESULT: "fail_broken_result",  # issue 10
    FailureReason.SEND: "fail_send",
}


def failure_reason(job: Job) -> str:
    failure = job.failure
    key = FAILURE_TEXTS.get(failure, "fail_upstream") if failure else "fail_upstream"
    return raw(job.language, key)


def status_markup(job: Job) -> InlineKeyboardMarkup | None:
    if job.status in (JobStatus.RESERVED, JobStatus.SUBMITTING, JobStatus.SUBMITTED):
        return keyboards.status_keyboard(job.language, job.id)
    if job.status in (JobStatus.FAILED, JobStatus.EXPIRED):
        return keyboards.retry_keyboard(job.language, job.id, cause=job.failure)
    return None


def failure_pointer(job: Job) -> str:
    """What the status message becomes once the failure is explained below it (said once)."""
    key = "status_pointer_expired" if job.status is JobStatus.EXPIRED else "status_pointer_failed"
    return raw(job.language, key)


def caption(job: Job, title: str) -> str:
    """Prompt + options under the video, escaped, within Telegram's 1024 characters."""
    lang = job.language
    opts = describe_options(lang, job.options)
    prompt = job.prompt.strip()
    if not prompt:  # no description: the model and options alone, not "🎬 🎬"
        return t(lang, "caption_no_prompt", model=title, options=opts)[:CAPTION_LIMIT]
    room = CAPTION_LIMIT - len(t(lang, "caption", prompt=Markup(""), model=title, options=opts))
    return t(lang, "caption", prompt=bounded(prompt, room), model=title, options=opts)


def bounded(text: str, room: int) -> Markup:
    """The plain `text` cut to `room` visible characters, then escaped.

    Telegram's limits count the text *after* entity parsing, where `&amp;` is one character and
    tags are none, so the visible length is at most the markup length. The user text is cut to the
    room left before it is escaped, in one step: the cost is linear in the input whatever it holds
    (escaping can multiply its length by five, which must never feed back into the cut), and
    the markup is never sliced, so a tag or an entity is never cut in half.
    """
    return escaped(cut(text[: room + 1], room)) if room > 0 else Markup("")


def fill_bounded(frame: str, text: str, limit: int, *, empty: str = "") -> str:
    """`frame` (HTML with one NUL placeholder) with `text` put in by `bounded`."""
    room = limit - (len(frame) - 1)
    if not text or room <= 0:
        return frame.replace("\x00", empty)
    return frame.replace("\x00", bounded(text, room))


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


# Telegram caps a first name at 64 characters, but a name is user input like any other: bounded
# here so that no name can push a message past Telegram's limits.
NAME_LIMIT = 64


def _name(name: str) -> str:
    # NUL marks where the escaped prompt goes in a frame: never let a name carry one.
    return cut(name.replace("\x00", ""), NAME_LIMIT)
