"""What users do with jobs: a photo becomes a draft, options change, Generate, Cancel, Retry.

Handlers call these methods and answer the button press with the returned `Reply`; everything
the user sees afterwards (status edits, the video, failures) goes through the messenger.
"""

from __future__ import annotations

import asyncio
import html as html_lib
import logging
import re
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from bot.catalog import ModelSpec
from bot.faults import crash_point
from bot.jobs.context import JobContext
from bot.jobs.runner import JobRunner
from bot.jobs.user_limits import PhotoRate, Rate
from bot.media.photos import MAX_DECODING_INTAKES, PhotoProblem, PhotoRejected, prepare_photo
from bot.models import ACTIVE_STATUSES, Job, JobStatus
from bot.payments.offer import no_credit_offer
from bot.providers.language import english_only_warning
from bot.storage import Balance
from bot.storage.jobs import Credit, ReserveOutcome
from bot.telegram import Button, Keyboard, prompt_question_markup, views, with_row
from bot.telegram.messenger import PhotoDownloadFailed, PhotoTooBig, Target
from bot.telegram.resend import resend_kept
from bot.texts import raw, t

log = logging.getLogger(__name__)
S = JobStatus
GENERATE_ATTEMPTS = 3  # a draft changed under Generate is re-read and priced again this often


@dataclass(frozen=True)
class Reply:
    """How to answer a button press: a short toast, or an alert box when `alert`.

    `then` is the follow-up work (edits, submission) the handler awaits right after answering,
    so the button's spinner stops at once however slow Telegram is.
    """

    text: str | None = None
    alert: bool = False
    then: Coroutine[Any, Any, None] | None = None


@dataclass(frozen=True)
class PhotoInput:
    """A photo the user sent, as the handler found it."""

    user_id: int
    chat_id: int
    thread_id: int | None
    message_id: int
    file_id: str
    file_size: int | None
    prompt: str
    language: str
    from_album: bool = False
    retry_of: int | None = None  # the job a Try again / Again / Change options started from
    owner_name: str = ""  # the requester's first name: groups say whose job it is


class JobService:
    """The user-facing operations on jobs."""

    def __init__(self, ctx: JobContext, runner: JobRunner) -> None:
        self._photo_rate: PhotoRate | None = None  # made on the first photo
        self.ctx = ctx
        self.runner = runner
        # Each decode may take ~300 MB at worst: a burst of photos must not add up (issue 10).
        self._decoding = asyncio.Semaphore(MAX_DECODING_INTAKES)

    @property
    def models(self) -> dict[str, ModelSpec]:
        return self.ctx.registry.models()

    async def balance(self, user_id: int) -> Balance:
        bal = await self.ctx.ledger.balance(user_id)
        if self.ctx.is_admin(user_id):
            return Balance(bal.daily, bal.granted, bal.daily_quota, bal.resets_at, unlimited=True)
        return bal

    async def job(self, job_id: int) -> Job | None:
        return await self.ctx.store.get(job_id)

    async def draft_replied_to(self, chat_id: int, message_id: int) -> Job | None:
        """The draft whose options message or prompt question this message replies to."""
        return await self.ctx.store.draft_by_message(chat_id, message_id)

    async def photo_answered(self, chat_id: int, photo_message_id: int) -> bool:
        """A photo update handled again after a crash: was it answered before the crash?"""
        return await self.ctx.store.photo_answered(chat_id, photo_message_id)

    async def draft_awaiting_prompt(self, chat_id: int, user_id: int) -> Job | None:
        """The user's newest draft in this chat that asked for a prompt and has none yet."""
        return await self.ctx.store.draft_awaiting_prompt(chat_id, user_id)

    async def adopt_status_message(self, job: Job, message_id: int) -> Job:
        """Make the message whose button was pressed the job's status message, if it has none."""
        await self.ctx.store.set_status_message(job.id, message_id)
        return await self.ctx.store.get(job.id) or job

    async def recent(self, user_id: int) -> list[Job]:
        return await self.ctx.store.recent_for_user(user_id)

    async def resend(self, user_id: int, job_id: int, target: Target) -> bool:
        """Send a delivered video again from Telegram's file_id (no upload, no charge)."""
        job = await self.ctx.store.get(job_id)
        if job is None or job.user_id != user_id:
            return False
        if not job.video_file_id:
            return await resend_kept(self.ctx, job, target)
        spec = self.models.get(job.model)
        title = spec.title if spec else job.model
        await self.ctx.messenger.resend_video(
            target, job.video_file_id, caption=views.caption(job, title), markup=None
        )
        return True

    def price(self, job: Job) -> int:
        return (
            0 if self.ctx.is_admin(job.user_id) else self.ctx.prices.price(job.model, job.options)
        )

    # ---- drafts -------------------------------------------------------------------------
    async def new_draft(self, photo: PhotoInput) -> Job | None:
        """Check the photo and show the options message; refuse clearly before any charge."""
        ctx, lang = self.ctx, photo.language
        target = Target(photo.chat_id, photo.thread_id, photo.message_id)
        refusal = await self._over_limits(photo)
        if refusal is not None:
            if refusal:
                await ctx.messenger.send_text(target, refusal)
            return None
        try:
            data = await ctx.messenger.download_photo(photo.file_id, photo.file_size)
            async with self._decoding:
                prepared = await asyncio.to_thread(prepare_photo, data)
        except PhotoTooBig:
            await ctx.messenger.send_text(target, t(lang, "photo_too_big_file"))
            return None
        except PhotoDownloadFailed:
            await ctx.messenger.send_text(target, t(lang, "photo_download_failed"))
            return None
        except PhotoRejected as exc:
            await ctx.messenger.send_text(target, _photo_problem_text(lang, exc, None))
            return None
        model = self._first_fitting_model(prepared.width, prepared.height)
        job = await ctx.store.create_draft(
            user_id=photo.user_id, chat_id=photo.chat_id, thread_id=photo.thread_id,
            photo_message_id=photo.message_id, photo_file_id=photo.file_id,
            photo_width=prepared.width, photo_height=prepared.height, prompt=photo.prompt.strip(),
            model=model, options=self.models[model].defaults(), language=lang,
            retry_of=photo.retry_of, requester_name=photo.owner_name or None,
        )  # fmt: skip
        ctx.media.put(job.id, prepared, ttl_s=ctx.settings.media_ttl_s)
        crash_point("draft_created")
        text, markup = await self._options_view(job)
        if photo.from_album:
            text = f"{text}\n\n{t(lang, 'options_album')}"
        message_id = await ctx.messenger.send_text(target, text, markup=markup)
        job = await ctx.store.update_draft(job.id, status_message_id=message_id) or job
        if not job.prompt:
            await self.ask_prompt(job)
        return job

    async def _over_limits(self, photo: PhotoInput) -> str | None:
        """Why this photo is not taken ("" = silently), None when it is (bot.jobs.user_limits)."""
        if self.ctx.is_admin(photo.user_id):
            return None
        if self._photo_rate is None:
            self._photo_rate = PhotoRate(self.ctx.settings.user_limits.photos_per_minute)
        rate = self._photo_rate.check(photo.user_id)
        if rate is not Rate.OK:
            log.info("user %s: photo over the per-minute limit (%s)", photo.user_id, rate)
            return t(photo.language, "limit_slow_down") if rate is Rate.WARN else ""
        limits, media = self.ctx.settings.user_limits, self.ctx.media
        kept = await self.ctx.store.unpaid_or_open(photo.user_id)
        drafts = [i for i, status in kept if status is S.DRAFT and media.path_for_job(i)]
        paths = [p for i, _ in kept if (p := media.path_for_job(i)) is not None]
        hosted = sum(p.stat().st_size for p in paths if p.exists())
        if len(drafts) >= limits.max_drafts or hosted >= limits.max_hosted_bytes:
            log.info(
                "user %s: %d drafts, %d hosted bytes: photo refused",
                photo.user_id, len(drafts), hosted,
            )  # fmt: skip
            return t(photo.language, "limit_drafts", n=len(drafts))
        return None

    async def ask_prompt(self, job: Job) -> None:
        spec = self.models[job.model]
        key = "ask_prompt" if spec.prompt_required else "ask_prompt_optional"
        ask_id = await self.ctx.messenger.send_text(
            Target(job.chat_id, job.thread_id, job.photo_message_id),
            t(job.language, key),
            markup=prompt_question_markup(raw(job.language, "prompt_placeholder")),
        )
        await self.ctx.store.update_draft(job.id, ask_message_id=ask_id)

    async def set_prompt(self, job: Job, prompt: str) -> None:
        updated = await self.ctx.store.update_draft(job.id, prompt=prompt.strip()[:5000])
        if updated is not None:
            await self.show_options(updated)
            await self.ctx.board.remove_question(updated)  # answered: groups stay tidy

    async def show_options(self, job: Job) -> None:
        if job.status_message_id is None:
            return
        text, markup = await self._options_view(job)
        await self.ctx.messenger.edit(job.chat_id, job.status_message_id, text, markup=markup)

    async def _options_view(self, job: Job) -> tuple[str, Keyboard]:
        ctx = self.ctx
        admin = ctx.is_admin(job.user_id)
        group = job.chat_id < 0

        def price_of(model: str, options: dict[str, str]) -> int:
            return 0 if admin else ctx.prices.price(model, options)

        scene = views.OptionsScene(
            price_of=price_of,
            balance=None if admin or group else await self.balance(job.user_id),
            owner=ctx.board.owner_name(job) if group else None,
            spicy_allowed=not group or ctx.settings.spicy_in_groups,
            expanded=ctx.people.is_unfolded(job.id),
        )
        text, markup = views.options_view(job, self.models, scene)
        # issue 11: told before paying when the prompt would reach an English-only provider
        if english_only_warning(ctx.registry.candidates(job.model, job.options), job.prompt):
            note = t(job.language, "english_only_note", model=self.models[job.model].title)
            text = f"{text}\n\n{note}"
        return text, markup

    async def expand(self, job: Job) -> Reply:
        """Groups: unfold the options behind "⚙️ Options"."""
        if job.status is not S.DRAFT:
            return Reply(raw(job.language, "stale_button"))
        self.ctx.people.unfold(job.id)
        return Reply(then=self.show_options(job))

    def _first_fitting_model(self, width: int, height: int) -> str:
        for key, spec in self.models.items():
            if _fits(spec, width, height):
                return key
        return self.ctx.registry.default_model()

    async def choose(self, job: Job, name: str, value: str) -> Reply:
        """A press on an option button (or the model row when `name` is "model")."""
        if job.status is not S.DRAFT:
            return Reply(raw(job.language, "stale_button"))
        if name == "model":
            if value not in self.models:
                return Reply(raw(job.language, "stale_button"))
            if value == job.model:
                return Reply()
            # The new model's own defaults: a kept 720p would double the price unseen.
            options = self.models[value].defaults()
            updated = await self.ctx.store.update_draft(job.id, model=value, options=options)
        else:
            spec = self.models.get(job.model)
            option = spec.option(name) if spec else None
            if option is None or value not in option.values:
                return Reply(raw(job.language, "stale_button"))
            if job.options.get(name) == value:
                return Reply()  # already chosen: nothing to redraw
            spicy = (name, value) == views.SPICY
            if spicy and job.chat_id < 0 and not self.ctx.settings.spicy_in_groups:
                return Reply(raw(job.language, "stale_button"))  # not offered here: forged
            updated = await self.ctx.store.update_draft(
                job.id, options={**job.options, name: value}
            )
            if spicy and updated is not None and self.ctx.people.first_spicy_notice(job.user_id):
                notice = raw(job.language, "spicy_notice")
                return Reply(notice, alert=True, then=self.show_options(updated))
        return Reply(then=self.show_options(updated) if updated is not None else None)

    # ---- generate / cancel / retry ------------------------------------------------------
    async def generate(self, job: Job) -> Reply:
        """Reserve credits, turn the options message into a status message, submit."""
        for _ in range(GENERATE_ATTEMPTS):
            reply = await self._generate(job)
            if reply is not None:
                return reply
            # An option press changed the draft after this press read it: check and price the
            # draft as it is now (what is charged is what is submitted).
            fresh = await self.ctx.store.get(job.id)
            if fresh is None:
                break
            job = fresh
        return Reply(raw(job.language, "stale_button"))

    async def _generate(self, job: Job) -> Reply | None:
        """One attempt; None when the draft changed under it."""
        ctx, lang = self.ctx, job.language
        if job.status is not S.DRAFT:
            return Reply(raw(lang, "stale_button"))
        spec = self.models.get(job.model)
        if spec is None or not spec.accepts(job.options):
            return Reply(raw(lang, "stale_button"), alert=True)
        if not _fits(spec, job.photo_width, job.photo_height):
            problem = _shape_problem(spec, job.photo_width, job.photo_height)
            return Reply(_photo_problem_text(lang, problem, spec.title, html=False), alert=True)
        if ctx.media.path_for_job(job.id) is None:
            return Reply(raw(lang, "stale_button"), alert=True)  # the photo expired (MEDIA_TTL_S)
        if spec.prompt_required and not job.prompt:
            # Asked once, with the photo; the options message says it is needed.
            if job.ask_message_id is None:
                await self.ask_prompt(job)
            return Reply(raw(lang, "need_description_alert"), alert=True)
        price = self.price(job)
        outcome, reserved = await ctx.store.reserve(
            job.id, user_id=job.user_id, price=price, max_active=ctx.settings.max_active,
            priced=(job.model, job.options),
            deadline_at=ctx.clock() + ctx.settings.deadline_floor_s,
        )  # fmt: skip
        if outcome is ReserveOutcome.CHANGED:
            return None
        if outcome is ReserveOutcome.NO_CREDITS:
            bal = await self.balance(job.user_id)
            text = t(lang, "no_credits", price=price, balance=bal.total,
                     reset_in=_until(lang, bal, ctx.clock()))  # fmt: skip
            alert = _plain(text)
            hint, row = no_credit_offer(ctx, job, bal.total)  # issue 15: Top up, cheaper choice
            return Reply(alert, alert=True, then=self._tell(job, text + hint, extra=row))
        if outcome is ReserveOutcome.TOO_MANY_ACTIVE:
            text = t(lang, "too_many_active", n=ctx.settings.max_active)
            return Reply(_plain(text), alert=True, then=self._tell(job, text))
        if reserved is None:
            return Reply(raw(lang, "stale_button"))
        log.info(
            "job %s reserved: user=%s model=%s price=%s", job.id, job.user_id, job.model, price
        )
        crash_point("reserved")
        ctx.people.forget_draft(job.id)  # not a draft any more
        ctx.metrics.credits("spent", reserved.price)
        return Reply(raw(lang, "generating_alert"), then=self._start(reserved))

    async def _tell(self, job: Job, text: str, extra: list[Button] | None = None) -> None:
        """A refusal also stays in the chat (an alert box vanishes): written into the options
        message itself, whose buttons still work (a cheaper choice, or Generate later)."""
        if job.status_message_id is None:
            await self.ctx.messenger.send_text(
                Target(job.chat_id, job.thread_id, job.photo_message_id), text
            )
            return
        options_text, markup = await self._options_view(job)
        if extra:
            markup = with_row(markup, extra)
        await self.ctx.messenger.edit(
            job.chat_id, job.status_message_id, f"{text}\n\n{options_text}", markup=markup
        )

    async def _start(self, job: Job) -> None:
        await self.ctx.board.refresh(job, force=True)
        self.ctx.tasks.spawn(self.runner.submit(job.id), f"submit-{job.id}")

    async def cancel(self, job: Job) -> Reply:
        """Cancel: free before submission; afterwards stop waiting and (by default) refund."""
        ctx, lang = self.ctx, job.language
        if job.status is S.DRAFT:
            done = await ctx.store.transition(job.id, {S.DRAFT}, S.CANCELLED)
            ended, board = done.job, ctx.board
            then = board.finish(ended, refunded=0, notify=False, count=False) if ended else None
            return Reply(raw(lang, "cancelled_alert"), then=then)
        if job.status in (S.DOWNLOADING, S.SENDING, S.DELIVERED):
            return Reply(raw(lang, "cancel_too_late"), alert=True)
        if job.status not in ACTIVE_STATUSES:
            return Reply(raw(lang, "stale_button"))
        # Free before submission; afterwards the provider may bill the operator anyway.
        after = Credit.REFUND if ctx.settings.refund_on_cancel else None
        done = await ctx.store.transition(
            job.id, {S.RESERVED, S.SUBMITTING, S.SUBMITTED}, S.CANCELLED,
            credit={S.RESERVED: Credit.REFUND, S.SUBMITTING: after, S.SUBMITTED: after},
            note="user cancelled",
        )  # fmt: skip
        if done.job is None:
            return Reply(raw(lang, "cancel_too_late"), alert=True)
        provider = ctx.registry.get(job.provider or "")
        if provider is not None and job.task_id:
            provider.cancel(job.task_id)  # the local renderer can really stop; remote ones cannot
        log.info("job %s cancelled by user %s, refunded %s", job.id, job.user_id, done.refunded)
        crash_point("cancelled")
        ctx.metrics.credits("refunded", done.refunded)
        then = ctx.board.finish(done.job, refunded=done.refunded, notify=False)
        return Reply(raw(lang, "cancelled_alert"), then=then)

    async def again(self, job: Job, *, generate: bool, same_seed: bool = False) -> Reply:
        """Same photo and options as a new job: Retry/Again (generate) or Change options;
        `same_seed` (issue 11) also reuses the job's seed, to repeat a result closely."""
        if job.status not in (S.FAILED, S.EXPIRED, S.DELIVERED, S.CANCELLED):
            return Reply(raw(job.language, "stale_button"))
        if same_seed and job.seed is None:
            return Reply(raw(job.language, "stale_button"))
        return Reply(then=self._again(job, generate=generate, same_seed=same_seed))

    async def _again(self, job: Job, *, generate: bool, same_seed: bool = False) -> None:
        draft = await self.new_draft(
            PhotoInput(
                job.user_id, job.chat_id, job.thread_id, job.photo_message_id, job.photo_file_id,
                None, job.prompt, job.language, retry_of=job.id,
                owner_name=job.requester_name or "",
            )
        )  # fmt: skip
        if draft is None:
            return
        if job.model in self.models and self.models[job.model].accepts(job.options):
            seed = {"seed": job.seed} if same_seed else {}
            draft = await self.ctx.store.update_draft(
                draft.id, model=job.model, options=job.options, **seed
            ) or draft  # fmt: skip
            await self.show_options(draft)
        if not generate:
            return
        reply = await self.generate(draft)
        if reply.then is not None:
            await reply.then
        elif reply.text:
            await self.ctx.messenger.send_text(
                Target(draft.chat_id, draft.thread_id, draft.status_message_id), reply.text
            )


def _fits(spec: ModelSpec, width: int, height: int) -> bool:
    return _shape_problem(spec, width, height) is None


def _shape_problem(spec: ModelSpec, width: int, height: int) -> PhotoRejected | None:
    if min(width, height) < spec.min_side_px:
        return PhotoRejected(
            PhotoProblem.TOO_SMALL, width=width, height=height, min_side=spec.min_side_px
        )
    ratio = max(width, height) / max(min(width, height), 1)
    if spec.max_aspect is not None and ratio > spec.max_aspect:
        return PhotoRejected(
            PhotoProblem.TOO_ELONGATED, ratio=round(ratio, 2), max_aspect=spec.max_aspect
        )
    return None


def _photo_problem_text(
    lang: str, exc: PhotoRejected | None, model: str | None, *, html: bool = True
) -> str:
    if exc is None:
        return ""
    key = {
        PhotoProblem.TOO_SMALL: "photo_too_small",
        PhotoProblem.TOO_ELONGATED: "photo_too_elongated",
        PhotoProblem.UNSUPPORTED_FORMAT: "photo_unsupported",
        PhotoProblem.NOT_AN_IMAGE: "photo_unreadable",
        PhotoProblem.TOO_LARGE_PIXELS: "photo_too_many_pixels",
        PhotoProblem.DAMAGED: "photo_damaged",
    }.get(exc.problem, "photo_unreadable")
    details = {k: str(v) for k, v in exc.details.items()}
    text = t(lang, key, model=model or raw(lang, "this_model"), **details)
    return text if html else _plain(text)


def _plain(text: str) -> str:
    """Alert boxes show no HTML: strip our tags and unescape."""
    return html_lib.unescape(re.sub(r"<[^>]+>", "", text))[:200]


def _until(lang: str, balance: Balance, now: float) -> str:
    seconds = max(int(balance.resets_at.timestamp() - now), 0)
    return t(lang, "duration_h_min", h=seconds // 3600, m=seconds % 3600 // 60)
