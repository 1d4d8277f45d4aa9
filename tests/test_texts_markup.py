"""Safe markup and a catalog without dead keys.

`t()` escapes every string it inserts unless the string is a `Markup` (HTML on purpose), so no
sentinel characters are needed to slip pre-escaped text past it. Every catalog key is used by
the code, either by its literal name or through one of the dynamic prefixes the code builds.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.texts import Markup, escaped, t
from bot.texts.en import EN
from bot.texts.ru import RU

ROOT = Path(__file__).resolve().parent.parent


def test_markup_is_inserted_as_it_is_and_plain_text_is_escaped() -> None:
    assert t("en", "caption", prompt="<b>x</b> & y", model="M", options="o").startswith(
        "🎬 &lt;b&gt;x&lt;/b&gt; &amp; y\n"
    )
    assert t("en", "caption", prompt=Markup("<i>kept</i>"), model="M", options="o").startswith(
        "🎬 <i>kept</i>\n"
    )
    assert escaped("a < b") == "a &lt; b" and isinstance(escaped("x"), Markup)


def _production_source() -> str:
    files = [*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("handlers").rglob("*.py")]
    return "\n".join(
        p.read_text(encoding="utf-8")
        for p in files
        if p.name not in ("en.py", "ru.py") and "testing" not in p.parts
    )


def test_every_catalog_key_is_used() -> None:
    source = _production_source()
    literals = set(re.findall(r"[\"']([a-z0-9_]+)[\"']", source))
    # Keys built at run time: f"status_word_{state}", f"preset_{key}", f"credit_{form}"...
    prefixes = set(re.findall(r"f[\"']([a-z0-9_]+)\{", source))
    prefixes |= {"credit_", "mode_", "quality_", "aspect_"}  # built in bot/texts itself
    unused = [
        key for key in EN if key not in literals and not key.startswith(tuple(prefixes))
    ]  # fmt: skip
    assert unused == []


def test_both_catalogs_have_the_same_keys() -> None:
    assert set(EN) == set(RU)
