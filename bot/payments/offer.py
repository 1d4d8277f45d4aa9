"""The buttons issue 15 adds to other screens, built here so their owners add one call each.

- "⭐ Top up": a callback button in a private chat; in a group a deep link to the private chat
  (an invoice is never posted to a group).
- the pack keyboard of /buy; the share button of /balance (a t.me share URL: it works without
  inline mode);
- the no-credit hint: the cheapest choice the balance still covers, else a nudge to top up.
"""

from __future__ import annotations

import itertools
from urllib.parse import quote

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.catalog import ModelSpec
from bot.jobs.context import JobContext
from bot.models import Job
from bot.payments.packs import CreditPack
from bot.pricing import PriceTable
from bot.texts import credits_label, describe_options, raw, t

BUY = "buy"  # callback data: "buy" opens the packs, "buy|<credits>" sends that pack's invoice
BUY_PATTERN = r"^buy(\|\d{1,7})?$"
START_BUY = "buy"  # /start buy: the deep link a group's button opens


def deep_link(bot_username: str, parameter: str) -> str:
    return f"https://t.me/{bot_username}?start={parameter}"


def topup_button(lang: str, *, private: bool, bot_username: str) -> InlineKeyboardButton:
    label = raw(lang, "pay_btn_topup")
    if private:
        return InlineKeyboardButton(label, callback_data=BUY)
    return InlineKeyboardButton(label, url=deep_link(bot_username, START_BUY))


def packs_keyboard(lang: str, packs: tuple[CreditPack, ...]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t(lang, "pay_btn_pack", credits=credits_label(lang, p.credits), stars=p.stars),
                    callback_data=f"{BUY}|{p.credits}",
                )
            ]
            for p in packs
        ]
    )


def open_private_keyboard(lang: str, bot_username: str) -> InlineKeyboardMarkup:
    button = InlineKeyboardButton(
        raw(lang, "pay_btn_open_private"), url=deep_link(bot_username, START_BUY)
    )
    return InlineKeyboardMarkup([[button]])


def share_button(lang: str, bot_username: str, code_parameter: str) -> InlineKeyboardButton:
    link = deep_link(bot_username, code_parameter)
    text = quote(raw(lang, "ref_share_text"), safe="")
    url = f"https://t.me/share/url?url={quote(link, safe='')}&text={text}"
    return InlineKeyboardButton(raw(lang, "pay_btn_share"), url=url)


def cheapest_choice(
    prices: PriceTable, models: dict[str, ModelSpec], prefer: str | None = None
) -> tuple[ModelSpec, dict[str, str], int] | None:
    """The cheapest (model, options, price) on offer; `prefer`'s model wins a tie."""
    best: tuple[int, int, ModelSpec, dict[str, str]] | None = None
    for key, spec in models.items():
        names = [o.name for o in spec.options]
        for values in itertools.product(*(o.values for o in spec.options)):
            options = dict(zip(names, values, strict=True))
            price = prices.price(key, options)
            rank = (price, 0 if key == prefer else 1)
            if best is None or rank < (best[0], best[1]):
                best = (price, rank[1], spec, options)
    return None if best is None else (best[2], best[3], best[0])


def no_credit_hint(
    lang: str,
    balance: int,
    prices: PriceTable,
    models: dict[str, ModelSpec],
    model: str | None,
    payments_on: bool,
) -> str:
    """A paragraph for the "not enough credits" message (HTML, starts with a blank line)."""
    parts: list[str] = []
    found = cheapest_choice(prices, models, model)
    if found is not None and 0 < found[2] <= balance:
        spec, options, price = found
        parts.append(
            t(
                lang,
                "pay_no_credit_cover",
                balance=credits_label(lang, balance),
                model=spec.title,
                options=describe_options(lang, options),
                price=credits_label(lang, price),
            )
        )
    if payments_on:
        parts.append(raw(lang, "pay_no_credit_topup"))
    return "".join(f"\n\n{p}" for p in parts)


def no_credit_offer(
    ctx: JobContext, job: Job, balance: int
) -> tuple[str, list[InlineKeyboardButton] | None]:
    """The no-credit message's extra paragraph and button row (None: no button)."""
    lang, payments_on = job.language, bool(ctx.settings.credit_packs)
    hint = no_credit_hint(lang, balance, ctx.prices, ctx.registry.models(), job.model, payments_on)
    if not payments_on:
        return hint, None
    private = job.chat_id > 0  # private chats have positive ids, groups negative
    button = topup_button(lang, private=private, bot_username=ctx.messenger.bot.username)
    return hint, [button]
