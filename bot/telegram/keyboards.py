"""Inline keyboards and their callback data (`verb|job_id|arg|arg`, always ≤ 64 bytes)."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.catalog import ModelSpec
from bot.ids import parse_id
from bot.texts import option_value_label, raw, t

SEP = "|"
VERBS = frozenset({"o", "m", "g", "x", "r", "a", "c", "p", "l"})
MAX_CALLBACK_BYTES = 64


@dataclass(frozen=True)
class Action:
    """Parsed callback data: verb, job id and up to two arguments."""

    verb: str
    job_id: int
    args: tuple[str, ...]


def encode(verb: str, job_id: int, *args: str) -> str:
    data = SEP.join((verb, str(job_id), *args))
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data too long: {data!r}")
    return data


def parse(data: str | None) -> Action | None:
    """Parse callback data; None for anything we did not make (stale or forged buttons)."""
    if not data or len(data.encode()) > MAX_CALLBACK_BYTES:
        return None
    parts = data.split(SEP)
    # 0 is the job id of buttons that belong to no job (the language choice).
    job_id = parse_id(parts[1], minimum=0) if 2 <= len(parts) <= 4 else None
    if job_id is None or parts[0] not in VERBS:
        return None
    return Action(parts[0], job_id, tuple(parts[2:]))


def options_keyboard(
    lang: str,
    job_id: int,
    models: dict[str, ModelSpec],
    model: str,
    chosen: dict[str, str],
    price_label: str,
    *,
    offer_no_prompt: bool = False,
) -> InlineKeyboardMarkup:
    """The options message: a model row when there is a choice, one row per option, Generate.

    `offer_no_prompt`: the prompt is still empty and the model can do without one.
    """
    rows: list[list[InlineKeyboardButton]] = []
    if len(models) > 1:
        rows.append(
            [
                InlineKeyboardButton(
                    _mark(spec.title, key == model), callback_data=encode("m", job_id, key)
                )
                for key, spec in models.items()
            ]
        )
    for option in models[model].options:
        rows.append(
            [
                InlineKeyboardButton(
                    _mark(
                        option_value_label(lang, option.name, value),
                        chosen.get(option.name) == value,
                    ),
                    callback_data=encode("o", job_id, option.name, value),
                )
                for value in option.values
            ]
        )
    if offer_no_prompt:
        rows.append(
            [InlineKeyboardButton(raw(lang, "btn_no_prompt"), callback_data=encode("p", job_id))]
        )
    rows.append(
        [
            InlineKeyboardButton(
                t(lang, "btn_generate", price=price_label), callback_data=encode("g", job_id)
            ),
            InlineKeyboardButton(raw(lang, "btn_cancel"), callback_data=encode("x", job_id)),
        ]
    )
    return InlineKeyboardMarkup(rows)


def status_keyboard(lang: str, job_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(raw(lang, "btn_cancel"), callback_data=encode("x", job_id))]]
    )


def retry_keyboard(lang: str, job_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(raw(lang, "btn_retry"), callback_data=encode("r", job_id))]]
    )


def delivered_keyboard(lang: str, job_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(raw(lang, "btn_again"), callback_data=encode("a", job_id)),
                InlineKeyboardButton(raw(lang, "btn_change"), callback_data=encode("c", job_id)),
            ]
        ]
    )


def _mark(label: str, selected: bool) -> str:
    return f"✅ {label}" if selected else label
