"""Every user-visible string, per language, and the functions that fill them in (HTML-escaped).

Strings are `str.format` templates in HTML (the bot's default parse mode). `t()` escapes every
string argument, so user text (prompts, names) can never break the markup or inject tags; the one
exception is a `Markup`, text that is HTML already and says so in its type.
Add a language by adding a dict with the same keys (a test checks that every key exists).
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from bot.texts.en import EN
from bot.texts.ru import RU

CATALOGS: dict[str, dict[str, str]] = {"en": EN, "ru": RU}
DEFAULT_LANGUAGE = "en"


def language_for(code: str | None) -> str:
    """Pick a supported language from Telegram's `language_code` (e.g. "ru-RU" -> "ru")."""
    base = (code or "").split("-")[0].lower()
    return base if base in CATALOGS else DEFAULT_LANGUAGE


class Markup(str):
    """Text that is already safe HTML (escaped on purpose, or one of our own templates):
    `t()` inserts it as it is. Make one with `escaped()` or `Markup(raw(...))`."""

    __slots__ = ()


def escaped(text: str) -> Markup:
    """Plain text (a user's prompt) made safe to insert as HTML."""
    return Markup(html.escape(text, quote=False))


def t(lang: str, key: str, **kwargs: Any) -> str:
    """The text `key` in `lang` (English when missing), with arguments HTML-escaped (a `Markup`
    argument is inserted as it is)."""
    template = CATALOGS.get(lang, EN).get(key) or EN[key]
    safe = {
        k: html.escape(v, quote=False) if isinstance(v, str) and not isinstance(v, Markup) else v
        for k, v in kwargs.items()
    }
    return template.format(**safe)


def raw(lang: str, key: str) -> str:
    """The unformatted template (for button labels that take no arguments)."""
    return CATALOGS.get(lang, EN).get(key) or EN[key]


def credits_label(lang: str, n: int) -> str:
    """ "1 credit", "5 credits"; Russian has three forms (1 кредит, 2 кредита, 5 кредитов)."""
    if lang == "ru":
        tens, ones = n % 100, n % 10
        form = (
            "one"
            if ones == 1 and tens != 11
            else "few"
            if 2 <= ones <= 4 and not 12 <= tens <= 14
            else "many"
        )
    else:
        form = "one" if n == 1 else "many"
    return t(lang, f"credit_{form}", n=n)


def cut(text: str, limit: int) -> str:
    """Shorten plain text to `limit` characters with an ellipsis."""
    if len(text) <= limit:
        return text
    # Never longer than `limit`, even when no room is left for the ellipsis.
    return text[: limit - 1] + "…" if limit > 0 else ""


def option_value_label(lang: str, name: str, value: str) -> str:
    """How an option value reads on a button: "6 s", "HD", "Fun", "Auto"."""
    if name == "duration":
        return t(lang, "unit_seconds", n=value)
    key = {
        "mode": f"mode_{value}",
        "quality": f"quality_{value}",
        "aspect_ratio": f"aspect_{value}",
    }
    if key.get(name, "") in EN:
        return raw(lang, key[name])
    return value


def describe_options(lang: str, options: dict[str, str]) -> str:
    """A one-line summary of chosen options in plain words: "Normal · 6 s · SD"."""
    return " · ".join(option_value_label(lang, n, v) for n, v in options.items())


def duration_label(lang: str, seconds: int) -> str:
    """ "45 s", "2 min 5 s" in the user's language (never a bare "0s")."""
    minutes, secs = divmod(max(seconds, 0), 60)
    if minutes:
        return t(lang, "duration_min_s", m=minutes, s=secs)
    return t(lang, "duration_s", s=secs)


def date_label(lang: str, when: datetime) -> str:
    """ "Dec 4, 14:35" / "4 дек, 14:35": the day and time as people write them."""
    month = raw(lang, "months").split()[when.month - 1]
    return t(lang, "date_format", month=month, day=when.day, time=when.strftime("%H:%M"))
