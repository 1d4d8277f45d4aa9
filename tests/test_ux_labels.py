"""Every button label the bot can show fits a phone: 390 pt wide, 16 px text, both languages.

Telegram's apps share a keyboard row equally between its buttons and cut a label that does not
fit with an ellipsis ("▶️ Generate · 4 cr…"). Each label is measured with a real font (DejaVu
Sans, which Debian ships in fonts-dejavu-core; skipped with a reason when it is missing) against
its share of the row. Emoji are not in that font: they count as 1.25 em, as wide as phones draw
them.
"""

from __future__ import annotations

import itertools
import unicodedata
from pathlib import Path

import pytest
from PIL import ImageFont
from telegram import InlineKeyboardMarkup

from bot.catalog import ModelSpec
from bot.models import FailureReason
from bot.pricing import PriceTable
from bot.providers import aimlapi, apikley, evolink, foxapi, local
from bot.telegram import keyboards
from bot.texts import CATALOGS

PHONE_PT = 390
FONT_PX = 16
BUBBLE_MARGIN = 2 * 8  # the keyboard's distance from the screen edges
GAP = 4  # between two buttons of a row
PADDING = 2 * 8  # inside a button, left and right
EMOJI_EM = 1.25
FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)
CATALOGUES: dict[str, dict[str, ModelSpec]] = {
    "evolink": evolink.MODELS,
    "apikley": apikley.MODELS,
    "foxapi": foxapi.MODELS,
    "aimlapi": aimlapi.MODELS,
    "local": dict(local.LocalProvider.models),
}
PRICES = PriceTable()  # the built-in table: the extras people will see


def _font() -> ImageFont.FreeTypeFont:
    for path in FONT_PATHS:
        if Path(path).is_file():
            return ImageFont.truetype(path, FONT_PX)
    pytest.skip("no DejaVuSans.ttf on this machine (Debian: apt-get install fonts-dejavu-core)")


def _is_emoji(char: str) -> bool:
    return ord(char) >= 0x2190 and unicodedata.category(char) in ("So", "Sm")


def label_width(font: ImageFont.FreeTypeFont, label: str) -> float:
    """The label's width in px: text by the font, emoji as phones draw them."""
    width = 0.0
    for char in label:
        if unicodedata.category(char) == "Mn" or char == "\ufe0f":
            continue  # variation selectors and combining marks take no room
        width += FONT_PX * EMOJI_EM if _is_emoji(char) else font.getlength(char)
    return width


def room(buttons_in_row: int) -> float:
    """The text width one button of a row of `buttons_in_row` offers."""
    row = PHONE_PT - BUBBLE_MARGIN - GAP * (buttons_in_row - 1)
    return row / buttons_in_row - PADDING


def too_wide(font: ImageFont.FreeTypeFont, markup: InlineKeyboardMarkup) -> list[str]:
    problems = []
    for row in markup.inline_keyboard:
        assert len(row) <= keyboards.MAX_PER_ROW, [b.text for b in row]
        for button in row:
            width = label_width(font, button.text)
            if width > room(len(row)):
                problems.append(f"{button.text!r}: {width:.0f} px > {room(len(row)):.0f} px")
    return problems


def _all_models() -> dict[str, ModelSpec]:
    models: dict[str, ModelSpec] = {}
    for catalogue in CATALOGUES.values():
        for key, spec in catalogue.items():
            models.setdefault(key, spec)
    return models


def _every_options_keyboard(lang: str) -> list[InlineKeyboardMarkup]:
    """Every model of every provider, every chosen value, with price extras, as shown."""
    out = []
    for catalogue in CATALOGUES.values():
        offered = {**_all_models(), **catalogue}  # several models: the model row is shown
        for key, spec in catalogue.items():
            for values in itertools.product(*(o.values for o in spec.options)):
                chosen = {o.name: v for o, v in zip(spec.options, values, strict=True)}
                price = PRICES.price(key, chosen)
                extras = {
                    (o.name, v): PRICES.price(key, {**chosen, o.name: v}) - price
                    for o in spec.options
                    for v in o.values
                }
                layout = keyboards.OptionsLayout(
                    job_id=2_000_000_000, models=offered, model=key, chosen=chosen, price=14,
                    extras=extras, unfit=frozenset(offered),
                )  # fmt: skip
                out.append(keyboards.options_keyboard(lang, layout))
                compact = keyboards.OptionsLayout(
                    job_id=1, models=offered, model=key, chosen=chosen, price=12, compact=True
                )
                out.append(keyboards.options_keyboard(lang, compact))
    return out


@pytest.mark.parametrize("lang", sorted(CATALOGS))
def test_every_options_label_fits_a_phone(lang: str) -> None:
    font = _font()
    problems = sorted({p for kb in _every_options_keyboard(lang) for p in too_wide(font, kb)})
    assert problems == []


@pytest.mark.parametrize("lang", sorted(CATALOGS))
def test_every_other_keyboard_fits_a_phone(lang: str) -> None:
    font = _font()
    markups = [
        keyboards.status_keyboard(lang, 1),
        *(
            keyboards.retry_keyboard(lang, 1, cause=c)
            for c in (FailureReason.CONTENT_POLICY, FailureReason.VALIDATION, None)
        ),
        keyboards.delivered_keyboard(lang, 1, 12),
        keyboards.presets_keyboard(lang, ("smile", "wind", "zoom", "turn")),
        keyboards.resend_keyboard(lang, [(n, n) for n in range(1, 11)]),
    ]
    problems = [p for kb in markups if kb is not None for p in too_wide(font, kb)]
    assert problems == []


def test_generate_is_alone_on_its_row_with_the_price() -> None:
    spec = evolink.MODELS["happyhorse"]
    layout = keyboards.OptionsLayout(
        job_id=7, models=evolink.MODELS, model="happyhorse", chosen=spec.defaults(), price=4
    )
    rows = keyboards.options_keyboard("en", layout).inline_keyboard
    [generate_row] = [row for row in rows if any(b.text.startswith("▶️") for b in row)]
    assert [b.text for b in generate_row] == ["▶️ Generate · 4 credits"]
    ru = keyboards.options_keyboard("ru", layout).inline_keyboard
    assert ["▶️ Создать · 4 кредита"] in [[b.text for b in row] for row in ru]


def test_six_aspect_ratios_make_two_rows_of_three() -> None:
    spec = foxapi.MODELS["grok"]
    layout = keyboards.OptionsLayout(
        job_id=7, models={"grok": spec}, model="grok", chosen=spec.defaults(), price=1
    )
    rows = keyboards.options_keyboard("en", layout).inline_keyboard
    aspect = [[b.text for b in row] for row in rows if "aspect_ratio" in row[0].callback_data]
    assert aspect == [["✅ Auto", "16:9", "9:16"], ["1:1", "4:3", "3:4"]]


def test_rows_of_balances_rows() -> None:
    def sizes(n: int) -> list[int]:
        return [len(r) for r in keyboards.rows_of([object()] * n)]  # type: ignore[list-item]

    assert [sizes(n) for n in range(1, 8)] == [[1], [2], [3], [2, 2], [3, 2], [3, 3], [3, 3, 1]]


def test_the_measure_catches_a_label_that_is_cut() -> None:
    """The old keyboard's Generate row (shared with Cancel) would have been cut in Russian."""
    font = _font()
    old_row = ["▶️ Создать · 14 кредитов", "✖️ Отмена"]
    assert label_width(font, old_row[0]) > room(2)
