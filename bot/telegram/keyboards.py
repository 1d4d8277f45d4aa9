"""Inline keyboards and their callback data (`verb|job_id|arg|arg`, always ≤ 64 bytes)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.catalog import ModelSpec
from bot.ids import parse_id
from bot.texts import credits_label, option_value_label, raw, t

SEP = "|"
# "p" (the old "No prompt" button) is still parsed: such buttons exist in chats.
# "d": Again with the same seed (issue 11).
VERBS = frozenset({"o", "m", "g", "x", "r", "a", "c", "p", "l", "e", "s", "t", "d"})
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


MAX_PER_ROW = 3  # more buttons than this in a row and a phone cuts their labels


@dataclass(frozen=True)
class OptionsLayout:
    """Everything the options keyboard shows, decided by the view.

    `extras[(option, value)]`: how many credits choosing that value adds (or saves) compared with
    the current choice; `unfit`: models the photo does not fit (marked ⚠️); `hidden`: values not
    offered here (Spicy in groups); `compact`: groups show the options behind one button.
    """

    job_id: int
    models: dict[str, ModelSpec]
    model: str
    chosen: dict[str, str]
    price: int
    extras: dict[tuple[str, str], int] = field(default_factory=dict)
    unfit: frozenset[str] = frozenset()
    hidden: frozenset[tuple[str, str]] = frozenset()
    compact: bool = False


def rows_of(
    buttons: Sequence[InlineKeyboardButton], per_row: int = MAX_PER_ROW
) -> list[list[InlineKeyboardButton]]:
    """Split buttons into balanced rows of at most `per_row` (6 -> 3 + 3, 4 -> 2 + 2)."""
    if not buttons:
        return []
    count = -(-len(buttons) // per_row)  # rows needed
    size = -(-len(buttons) // count)  # as even as possible
    return [list(buttons[i : i + size]) for i in range(0, len(buttons), size)]


def options_keyboard(lang: str, layout: OptionsLayout) -> InlineKeyboardMarkup:
    """The options message: model and option rows (folded in groups), then Generate alone.

    Generate is the only button that spends credits, on a full-width row with its price.
    """
    job_id = layout.job_id
    rows: list[list[InlineKeyboardButton]] = []
    if layout.compact:
        rows.append(
            [
                InlineKeyboardButton(raw(lang, "btn_more"), callback_data=encode("e", job_id)),
                InlineKeyboardButton(raw(lang, "btn_cancel"), callback_data=encode("x", job_id)),
            ]
        )
        rows.append([_generate_button(lang, job_id, layout.price)])
        return InlineKeyboardMarkup(rows)
    if len(layout.models) > 1:
        models = [
            InlineKeyboardButton(
                _model_label(spec.title, chosen=key == layout.model, unfit=key in layout.unfit),
                callback_data=encode("m", job_id, key),
            )
            for key, spec in layout.models.items()
        ]
        rows += rows_of(models, 2)  # model names are long: two a row at most
    for option in layout.models[layout.model].options:
        values = [
            InlineKeyboardButton(
                _value_label(lang, option.name, value, layout),
                callback_data=encode("o", job_id, option.name, value),
            )
            for value in option.values
            if (option.name, value) not in layout.hidden
        ]
        if len(values) > 1:
            rows += rows_of(values)
    rows.append([_generate_button(lang, job_id, layout.price)])
    rows.append([InlineKeyboardButton(raw(lang, "btn_cancel"), callback_data=encode("x", job_id))])
    return InlineKeyboardMarkup(rows)


def _model_label(title: str, *, chosen: bool, unfit: bool) -> str:
    """✅ the chosen model, ⚠️ one the photo does not fit (both would not fit on a phone: the
    options text names the chosen model and warns about the photo)."""
    return f"⚠️ {title}" if unfit else _mark(title, chosen)


def _value_label(lang: str, name: str, value: str, layout: OptionsLayout) -> str:
    label = option_value_label(lang, name, value)
    if layout.chosen.get(name) == value:
        return _mark(label, True)
    extra = layout.extras.get((name, value), 0)
    return f"{label} {t(lang, 'price_extra', n=extra)}" if extra > 0 else label


def _generate_button(lang: str, job_id: int, price: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        t(lang, "btn_generate", price=credits_label(lang, price)),
        callback_data=encode("g", job_id),
    )


def status_keyboard(lang: str, job_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(raw(lang, "btn_cancel"), callback_data=encode("x", job_id))]]
    )


def retry_keyboard(lang: str, job_id: int, *, cause: str = "") -> InlineKeyboardMarkup:
    """After a failure, the button that fits its cause: a refused description gets a new one,
    a photo the service could not use gets the options (another model), anything else Try again.
    """
    if cause == "content_policy":
        label, verb = raw(lang, "btn_new_description"), "c"
    elif cause == "validation":
        label, verb = raw(lang, "btn_change"), "c"
    else:
        label, verb = raw(lang, "btn_retry"), "r"
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=encode(verb, job_id))]]
    )


def delivered_keyboard(lang: str, job_id: int, price: int | None = None) -> InlineKeyboardMarkup:
    """Under the video: Again (with what it will cost) and Change options."""
    again = (
        t(lang, "btn_again", price=credits_label(lang, price))
        if price is not None
        else raw(lang, "btn_again").split(" · ")[0]
    )
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(again, callback_data=encode("a", job_id))],
            [InlineKeyboardButton(raw(lang, "btn_change"), callback_data=encode("c", job_id))],
        ]
    )


def with_same_seed(
    markup: InlineKeyboardMarkup, lang: str, job_id: int, seed: int | None
) -> InlineKeyboardMarkup:
    """issue 11: "Again, same seed" as its own row under a delivered video's buttons, when the
    job ran with a seed (HappyHorse documents one)."""
    if seed is None:
        return markup
    button = InlineKeyboardButton(
        raw(lang, "btn_again_same_seed"), callback_data=encode("d", job_id)
    )
    return InlineKeyboardMarkup([*markup.inline_keyboard, [button]])


def presets_keyboard(lang: str, keys: Sequence[str]) -> InlineKeyboardMarkup:
    """/start: one-tap descriptions for the next photo (`t|0|<preset>`)."""
    buttons = [
        InlineKeyboardButton(raw(lang, f"preset_{key}"), callback_data=encode("t", 0, key))
        for key in keys
    ]
    return InlineKeyboardMarkup(rows_of(buttons, 2))


def resend_keyboard(lang: str, entries: Sequence[tuple[int, int]]) -> InlineKeyboardMarkup | None:
    """/jobs: a "Send again" button per delivered video, as (number shown, job id)."""
    buttons = [
        InlineKeyboardButton(
            t(lang, "btn_send_again", n=number), callback_data=encode("s", job_id)
        )
        for number, job_id in entries
    ]
    return InlineKeyboardMarkup(rows_of(buttons, 2)) if buttons else None


def _mark(label: str, selected: bool) -> str:
    """✅ before the chosen label, in place of its own leading emoji ("🔞 Spicy" -> "✅ Spicy"):
    two emoji would not fit three buttons a row."""
    if not selected:
        return label
    first, _, rest = label.partition(" ")
    if rest and all(unicodedata.category(c) in ("So", "Mn") or c == "\ufe0f" for c in first):
        label = rest
    return f"✅ {label}"
