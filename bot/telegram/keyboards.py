"""Inline keyboards and their callback data (`verb|job_id|arg|arg`, always ≤ 64 bytes)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.catalog import ModelSpec
from bot.ids import parse_id
from bot.models import FailureReason
from bot.texts import credits_label, option_value_label, raw, t

SEP = "|"
MAX_CALLBACK_BYTES = 64


class Verb(StrEnum):
    """What a button does. The one-letter values are the wire format of buttons already sent
    to chats (they keep working); the names are what the code says."""

    OPTION = "o"  # o|<job>|<option>|<value>
    MODEL = "m"  # m|<job>|<model>
    GENERATE = "g"
    NO_PROMPT = "p"  # the old "No prompt" button: generate, the model improvises
    CANCEL = "x"
    EXPAND = "e"  # "More options"
    RETRY = "r"
    AGAIN = "a"
    CHANGE = "c"  # Again, with a new description or other options
    SAME_SEED = "d"  # issue 11: Again, same seed
    RESEND = "s"  # /jobs: send a video again
    LANGUAGE = "l"  # l|<code> (old buttons: l|0|<code>)
    PRESET = "t"  # t|<preset> (old buttons: t|0|<preset>)


# How many arguments each job verb carries after the job id.
ARITY: dict[Verb, int] = {Verb.OPTION: 2, Verb.MODEL: 1}
CHOICE_VERBS = frozenset({Verb.LANGUAGE, Verb.PRESET})  # about the user, not about a job


@dataclass(frozen=True)
class Action:
    """Parsed callback data of a job button: verb, job id and its arguments."""

    verb: Verb
    job_id: int
    args: tuple[str, ...]


def encode(verb: Verb, job_id: int, *args: str) -> str:
    return _checked(SEP.join((Verb(verb).value, str(job_id), *args)))


def encode_choice(verb: Verb, value: str) -> str:
    """A button that is about no job (a language, a preset): `verb|value`."""
    return _checked(SEP.join((Verb(verb).value, value)))


def _checked(data: str) -> str:
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data too long: {data!r}")
    return data


def job_pattern(verb: Verb) -> re.Pattern[str]:
    """What a `CallbackQueryHandler` for a job verb matches: verb, job id, its arguments."""
    args = rf"(?:\|[^|]+){{{ARITY.get(verb, 0)}}}"
    return re.compile(rf"^{re.escape(verb.value)}\|\d+{args}$")


def choice_pattern(verb: Verb) -> re.Pattern[str]:
    """`verb|value`, or `verb|0|value` as sent before the fake job id 0 was dropped."""
    return re.compile(rf"^{re.escape(verb.value)}\|(?:0\|)?(?P<value>[^|]+)$")


def parse(data: str | None) -> Action | None:
    """Parse a job button's data; None for anything we did not make (stale or forged buttons)."""
    if not data or len(data.encode()) > MAX_CALLBACK_BYTES:
        return None
    parts = data.split(SEP)
    if len(parts) < 2 or parts[0] not in _JOB_VERBS:
        return None
    job_id = parse_id(parts[1])  # ASCII digits within int64 only ("²" is no id)
    verb = Verb(parts[0])
    if job_id is None or len(parts) - 2 != ARITY.get(verb, 0):
        return None
    return Action(verb, job_id, tuple(parts[2:]))


_JOB_VERBS = frozenset(v.value for v in Verb if v not in CHOICE_VERBS)


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
                InlineKeyboardButton(
                    raw(lang, "btn_more"), callback_data=encode(Verb.EXPAND, job_id)
                ),
                InlineKeyboardButton(
                    raw(lang, "btn_cancel"), callback_data=encode(Verb.CANCEL, job_id)
                ),
            ]
        )
        rows.append([_generate_button(lang, job_id, layout.price)])
        return InlineKeyboardMarkup(rows)
    if len(layout.models) > 1:
        models = [
            InlineKeyboardButton(
                _model_label(spec.title, chosen=key == layout.model, unfit=key in layout.unfit),
                callback_data=encode(Verb.MODEL, job_id, key),
            )
            for key, spec in layout.models.items()
        ]
        rows += rows_of(models, 2)  # model names are long: two a row at most
    for option in layout.models[layout.model].options:
        values = [
            InlineKeyboardButton(
                _value_label(lang, option.name, value, layout),
                callback_data=encode(Verb.OPTION, job_id, option.name, value),
            )
            for value in option.values
            if (option.name, value) not in layout.hidden
        ]
        if len(values) > 1:
            rows += rows_of(values)
    rows.append([_generate_button(lang, job_id, layout.price)])
    rows.append(
        [InlineKeyboardButton(raw(lang, "btn_cancel"), callback_data=encode(Verb.CANCEL, job_id))]
    )
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
        callback_data=encode(Verb.GENERATE, job_id),
    )


def status_keyboard(lang: str, job_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    raw(lang, "btn_cancel"), callback_data=encode(Verb.CANCEL, job_id)
                )
            ]
        ]
    )


def retry_keyboard(
    lang: str, job_id: int, *, cause: FailureReason | None = None
) -> InlineKeyboardMarkup:
    """After a failure, the button that fits its cause: a refused description gets a new one,
    a photo the service could not use gets the options (another model), anything else Try again.
    """
    if cause is FailureReason.CONTENT_POLICY:
        label, verb = raw(lang, "btn_new_description"), Verb.CHANGE
    elif cause is FailureReason.VALIDATION:
        label, verb = raw(lang, "btn_change"), Verb.CHANGE
    else:
        label, verb = raw(lang, "btn_retry"), Verb.RETRY
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
            [InlineKeyboardButton(again, callback_data=encode(Verb.AGAIN, job_id))],
            [
                InlineKeyboardButton(
                    raw(lang, "btn_change"), callback_data=encode(Verb.CHANGE, job_id)
                )
            ],
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
        raw(lang, "btn_again_same_seed"), callback_data=encode(Verb.SAME_SEED, job_id)
    )
    return InlineKeyboardMarkup([*markup.inline_keyboard, [button]])


def presets_keyboard(lang: str, keys: Sequence[str]) -> InlineKeyboardMarkup:
    """/start: one-tap descriptions for the next photo (`t|<preset>`)."""
    buttons = [
        InlineKeyboardButton(
            raw(lang, f"preset_{key}"), callback_data=encode_choice(Verb.PRESET, key)
        )
        for key in keys
    ]
    return InlineKeyboardMarkup(rows_of(buttons, 2))


def resend_keyboard(lang: str, entries: Sequence[tuple[int, int]]) -> InlineKeyboardMarkup | None:
    """/jobs: a "Send again" button per delivered video, as (number shown, job id)."""
    buttons = [
        InlineKeyboardButton(
            t(lang, "btn_send_again", n=number), callback_data=encode(Verb.RESEND, job_id)
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
