"""Telegram Stars: /buy, the pack buttons, pre-checkout, successful and refunded payments,
the admin's /refund, /paysupport, /terms, and the referral part of /start (issue 15).

The three payment updates are handled in group -2, before the ban gate (group -1): a banned
user's pre-checkout query must still be answered (with a refusal; unanswered, Telegram would time
out after 10 s), and a payment Telegram reports as done is credited whoever made it, because the
money has moved. Those handlers stop the update afterwards, so nothing else answers it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Collection

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    PreCheckoutQueryHandler,
    filters,
)

from bot.jobs.accounts import Balance
from bot.payments import offer
from bot.payments.packs import find_pack
from bot.payments.referrals import PREFIX as REFERRAL_PREFIX
from bot.payments.referrals import Invitation, Reward
from bot.payments.service import RefundOutcome
from bot.payments.stats import format_lines, per_day
from bot.texts import credits_label, raw, t
from handlers.context import BotContext, BotData, HandlerServices, PayTexts, lang

log = logging.getLogger(__name__)

_CHARGE_ID_MAX = 256
__all__ = ["PayTexts"]  # wired by bot/runtime.py with the operator's texts


def _private(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == ChatType.PRIVATE


# ---- /buy and the pack buttons ---------------------------------------------------------------
async def buy(update: Update, context: BotContext) -> None:
    """/buy: the packs (private chat), or a button that opens the private chat (group)."""
    await _show_packs(update, context)


async def _show_packs(update: Update, context: BotContext) -> None:
    msg, language, svc = update.effective_message, lang(update, context), context.payments
    if msg is None:
        return
    if svc is None or not svc.enabled:
        await msg.reply_text(t(language, "pay_off"))
    elif not _private(update):
        await msg.reply_text(
            t(language, "pay_group"),
            reply_markup=offer.open_private_keyboard(language, context.bot.username),
        )
    else:
        await msg.reply_text(
            t(language, "pay_packs"), reply_markup=offer.packs_keyboard(language, svc.packs)
        )


async def on_buy_button(update: Update, context: BotContext) -> None:
    """ "buy": show the packs; "buy|<credits>": send that pack's invoice to the private chat."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None:
        return
    language, svc = lang(update, context), context.payments
    if not re.fullmatch(offer.BUY_PATTERN, query.data or ""):
        # PTB hands empty callback data to every pattern handler: it is nobody's button.
        await query.answer(raw(language, "stale_button"))
        return
    if svc is None or not svc.enabled:
        await query.answer(raw(language, "pay_off"), show_alert=True)
        return
    if not _private(update):  # our group buttons are links; this one is stale or forged
        await query.answer(raw(language, "pay_group_plain"), show_alert=True)
        return
    _, _, pack = (query.data or "").partition("|")
    if not pack:
        await query.answer()
        await context.bot.send_message(
            user.id,
            t(language, "pay_packs"),
            reply_markup=offer.packs_keyboard(language, svc.packs),
        )
        return
    if find_pack(svc.packs, int(pack)) is None:  # the operator changed the packs since
        await query.answer(raw(language, "pay_err_stale"), show_alert=True)
        return
    await query.answer()  # at once: the spinner stops however slow sendInvoice is
    await svc.send_invoice(user.id, user.id, int(pack), language)


# ---- pre-checkout, successful and refunded payments (group -2) ------------------------------
async def pre_checkout(update: Update, context: BotContext) -> None:
    """Answer at once (Telegram waits 10 s): ok, or a refusal the buyer can understand."""
    query = update.pre_checkout_query
    if query is None:
        return
    language, svc = lang(update, context), context.payments
    try:
        banned = await context.accounts.is_banned(query.from_user.id)
        refusal = (
            None
            if svc is None
            else await svc.refusal(
                query.from_user.id,
                query.currency,
                query.total_amount,
                query.invoice_payload,
                banned,
            )
        )
        key = "pay_err_off" if svc is None else refusal
    except Exception:
        log.exception("pre-checkout check failed; refusing the payment")
        key = "pay_err_internal"
    if key is None:
        await query.answer(ok=True)
    else:
        log.info("pre-checkout of user %s refused: %s", query.from_user.id, key)
        await query.answer(ok=False, error_message=raw(language, str(key)))
    raise ApplicationHandlerStop


async def successful_payment(update: Update, context: BotContext) -> None:
    """Credit the purchase (once per charge id), then tell the buyer their new balance."""
    msg, user = update.effective_message, update.effective_user
    paid = msg.successful_payment if msg else None
    svc = context.payments
    if paid is None or user is None:
        return
    if svc is None:
        log.error(
            "a successful payment arrived but payments are not wired: %s",
            paid.telegram_payment_charge_id,
        )
        raise ApplicationHandlerStop
    # Under the charge's lock: copies handled at once (updates run concurrently) tell once.
    async with svc.charge_lock(paid.telegram_payment_charge_id):
        credited = await svc.credit(
            user_id=user.id,
            currency=paid.currency,
            total_amount=paid.total_amount,
            payload_text=paid.invoice_payload,
            charge_id=paid.telegram_payment_charge_id,
            provider_charge_id=paid.provider_payment_charge_id,
        )
        await svc.tell_credited(credited, lang(update, context))
    raise ApplicationHandlerStop


async def refunded_payment(update: Update, context: BotContext) -> None:
    """Telegram says a payment was refunded (by us or by its support): take the credits back."""
    msg = update.effective_message
    refunded = msg.refunded_payment if msg else None
    svc = context.payments
    if refunded is None or svc is None:
        raise ApplicationHandlerStop
    taken = await svc.record_refund(refunded.telegram_payment_charge_id)
    if taken is not None and taken.new:
        await svc.tell_refunded(taken)
    raise ApplicationHandlerStop


# ---- admin /refund, /paysupport, /terms ------------------------------------------------------
async def refund(update: Update, context: BotContext) -> None:
    """/refund <charge_id> [confirm]: Stars back to the buyer, the pack's credits taken back."""
    msg = update.effective_message
    if msg is None:
        return
    language, svc = lang(update, context), context.payments
    args = context.args or []
    confirmed = len(args) == 2 and args[1].lower() == "confirm"
    if svc is None or len(args) not in (1, 2) or (len(args) == 2 and not confirmed):
        await msg.reply_text(t(language, "admin_refund_usage"))
        return
    charge_id = args[0][:_CHARGE_ID_MAX]
    result = await svc.refund(charge_id, confirmed=confirmed)
    fields = {
        "charge": charge_id,
        "user": str(result.user_id),
        "stars": result.stars,
        "credits": credits_label(language, result.credits),
        "left": result.left,
        "taken": credits_label(language, result.taken),
        "error": result.error,
    }
    await msg.reply_text(t(language, f"admin_refund_{result.outcome.value}", **fields))
    # Telegram's refunded_payment message may have recorded (and told) it first: tell once.
    if result.outcome is RefundOutcome.DONE and result.record is not None and result.record.new:
        try:
            await svc.tell_refunded(result.record)
        except TelegramError as exc:
            log.info("could not tell user %s about the refund: %s", result.user_id, exc)


async def paysupport(update: Update, context: BotContext) -> None:
    await _operator_text(update, context, "paysupport")


async def terms(update: Update, context: BotContext) -> None:
    await _operator_text(update, context, "terms")


async def _operator_text(update: Update, context: BotContext, which: str) -> None:
    msg = update.effective_message
    if msg is None:
        return
    texts = context.pay_texts
    custom = texts.paysupport if which == "paysupport" else texts.terms
    if custom:
        await msg.reply_text(custom, parse_mode=None)  # the operator's words, shown as written
    else:
        await msg.reply_text(t(lang(update, context), f"pay_{which}"))


# ---- hooks for other screens -----------------------------------------------------------------
async def start_argument(update: Update, context: BotContext) -> None:
    """/start <argument>: "buy" (a group's button) opens the packs; "ref_<code>" an invitation."""
    msg, user = update.effective_message, update.effective_user
    args = context.args or []
    if msg is None or user is None or not args or not _private(update):
        return
    if args[0] == offer.START_BUY:
        await _show_packs(update, context)
        return
    refs = context.referrals
    if refs is None or not args[0].startswith(REFERRAL_PREFIX):
        return
    outcome = await refs.accept(user.id, args[0], msg.date.timestamp())
    language = lang(update, context)
    if outcome is Invitation.ACCEPTED:
        await msg.reply_text(t(language, "ref_welcome", n=credits_label(language, refs.bonus)))
    elif outcome is Invitation.SELF:
        await msg.reply_text(t(language, "ref_self"))
    elif outcome is Invitation.EXISTING:
        await msg.reply_text(t(language, "ref_existing"))


async def balance_extras(
    update: Update, context: BotContext, balance: Balance
) -> tuple[str, InlineKeyboardMarkup | None]:
    """What /balance adds: bought credits, the spending order, Top up and share buttons."""
    user = update.effective_user
    language, svc, refs = lang(update, context), context.payments, context.referrals
    text = t(language, "pay_balance_extra", bought=balance.bought)
    row: list[InlineKeyboardButton] = []
    private, username = _private(update), context.bot.username
    if svc is not None and svc.enabled:
        row.append(offer.topup_button(language, private=private, bot_username=username))
    if refs is not None and refs.enabled and user is not None:
        code = await refs.code_for(user.id)
        text += t(language, "ref_balance_line", n=credits_label(language, refs.bonus))
        row.append(offer.share_button(language, username, f"{REFERRAL_PREFIX}{code}"))
    return text, InlineKeyboardMarkup([row]) if row else None


def referral_notifier(app: Application) -> Callable[[int], Awaitable[None]]:  # type: ignore[type-arg]
    """The delivery hook: pay a due referral bonus and tell both users."""

    async def on_delivered(user_id: int) -> None:
        refs = _services(app).referrals
        if refs is None:
            return
        try:
            reward = await refs.reward_due(user_id)
            if reward is not None:
                await tell_reward(app, reward)
        except Exception:  # the video is delivered; a bonus problem must not look like a failure
            log.exception("referral bonus for user %s failed", user_id)

    return on_delivered


async def tell_reward(app: Application, reward: Reward) -> None:  # type: ignore[type-arg]
    services = _services(app)
    for user_id in (reward.invitee_id, reward.referrer_id):
        language = await services.accounts.language(user_id) or "en"
        total = (await services.jobs.balance(user_id)).total
        try:
            await app.bot.send_message(
                user_id,
                t(language, "ref_bonus", n=credits_label(language, reward.bonus), total=total),
            )
        except TelegramError as exc:
            log.info("could not tell user %s about the referral bonus: %s", user_id, exc)


async def stats_block(context: BotContext, language: str, now: float) -> str:
    """The Stars lines of /stats (empty when payments are not wired)."""
    svc = context.payments
    if svc is None:
        return ""
    return format_lines(language, await per_day(svc.store.db, now))


def _services(app: Application) -> HandlerServices:  # type: ignore[type-arg]
    bot_data = app.bot_data
    assert isinstance(bot_data, BotData)
    return bot_data.services


def register(app: Application, admin_ids: Collection[int]) -> None:  # type: ignore[type-arg]
    """Before `handlers.register`: these must come ahead of its catch-all button handler."""
    admins = filters.UpdateType.MESSAGES & filters.User(user_id=admin_ids)
    app.add_handler(PreCheckoutQueryHandler(pre_checkout), group=-2)
    app.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, successful_payment), group=-2)
    app.add_handler(
        MessageHandler(filters.StatusUpdate.REFUNDED_PAYMENT, refunded_payment), group=-2
    )
    app.add_handler(CommandHandler("buy", buy))
    app.add_handler(CommandHandler("refund", refund, filters=admins))
    app.add_handler(CommandHandler("paysupport", paysupport))
    app.add_handler(CommandHandler("terms", terms))
    app.add_handler(CallbackQueryHandler(on_buy_button, pattern=offer.BUY_PATTERN))
