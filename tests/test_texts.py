"""The text catalogs: same keys and placeholders in every language, valid Telegram HTML."""

from __future__ import annotations

import re
import string

import pytest

from bot.texts import CATALOGS, credits_label, language_for, raw, t
from bot.texts.en import EN
from bot.texts.ru import RU

# The tags Telegram's HTML parse mode accepts (the catalogs use no attributes).
ALLOWED_TAGS = frozenset({"b", "i", "u", "s", "code", "pre", "tg-spoiler", "blockquote"})
TAG = re.compile(r"<(/?)([a-z-]+)>")
ENTITY = re.compile(r"&(lt|gt|amp|quot);")


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def dummy_args(template: str) -> dict[str, str]:
    return {name: f"x{name}" for name in placeholders(template)}


def check_html(text: str) -> None:
    """Tags allowed and balanced; no bare <, > or & outside tags and entities."""
    stack: list[str] = []
    for closing, name in TAG.findall(text):
        assert name in ALLOWED_TAGS, f"tag <{name}> not allowed"
        if closing:
            assert stack and stack[-1] == name, f"</{name}> closes nothing in {text!r}"
            stack.pop()
        else:
            stack.append(name)
    assert not stack, f"unclosed {stack} in {text!r}"
    bare = ENTITY.sub("", TAG.sub("", text))
    assert not set("<>&") & set(bare), f"unescaped <, > or & in {text!r}"


def test_catalogs_registered() -> None:
    assert CATALOGS == {"en": EN, "ru": RU}


@pytest.mark.parametrize("lang", sorted(CATALOGS))
def test_every_key_in_every_catalog(lang: str) -> None:
    catalog = CATALOGS[lang]
    assert sorted(set(EN) - set(catalog)) == [], f"missing in {lang}"
    assert sorted(set(catalog) - set(EN)) == [], f"only in {lang}"


@pytest.mark.parametrize("lang", sorted(set(CATALOGS) - {"en"}))
def test_placeholders_identical_per_key(lang: str) -> None:
    different = {
        key: (placeholders(EN[key]), placeholders(CATALOGS[lang][key]))
        for key in EN
        if placeholders(EN[key]) != placeholders(CATALOGS[lang].get(key, ""))
    }
    assert different == {}


@pytest.mark.parametrize("lang", sorted(CATALOGS))
def test_every_template_formats_and_is_valid_html(lang: str) -> None:
    for key, template in CATALOGS[lang].items():
        text = t(lang, key, **dummy_args(template))
        assert text.strip(), key
        assert "{" not in text and "}" not in text, key
        check_html(text)


def test_russian_is_actually_translated() -> None:
    # Language-neutral strings (a percentage, "#id · status…") may match; prose must not.
    def words(template: str) -> str:
        return TAG.sub("", re.sub(r"\{\w*\}", "", template))

    # "Full HD" is the name Russian phones and TVs use too.
    neutral = {"quality_1080p"}
    same = [k for k in EN if RU[k] == EN[k] and re.search(r"[A-Za-z]{3,}", words(EN[k]))]
    assert sorted(set(same) - neutral) == []
    assert all(re.search("[а-яё]", RU[k], re.IGNORECASE) for k in ("start", "help", "banned"))


def test_check_html_rejects_broken_markup() -> None:
    for bad in ("<b>open", "</b>", "<b><i>x</b></i>", "<script>x</script>", "a < b", "R&D"):
        with pytest.raises(AssertionError):
            check_html(bad)
    check_html("<b>ok</b> &lt;id&gt; &amp;")


def test_t_escapes_user_input() -> None:
    text = t("en", "caption", prompt="<b>bold</b> & <script>", model="M&M", options="<i>")
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;" in text
    assert "M&amp;M" in text and "&lt;i&gt;" in text
    check_html(text)
    assert t("ru", "admin_banned", user="<1>") == "Пользователь &lt;1&gt; заблокирован."


def test_non_string_arguments_pass_through() -> None:
    assert t("en", "unit_seconds", n=3) == "3 s"
    assert [credits_label("en", n) for n in (1, 2)] == ["1 credit", "2 credits"]
    ru = [credits_label("ru", n) for n in (1, 3, 5, 11, 21, 22, 112)]
    assert ru == ["1 кредит", "3 кредита", "5 кредитов", "11 кредитов", "21 кредит", "22 кредита",
                  "112 кредитов"]  # fmt: skip
    assert t("ru", "unit_seconds", n=6) == "6 с"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ru-RU", "ru"),
        ("ru", "ru"),
        ("RU", "ru"),
        ("en-GB", "en"),
        ("en", "en"),
        ("de", "en"),
        ("uk", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_language_for(code: str | None, expected: str) -> None:
    assert language_for(code) == expected


def test_language_names_are_in_their_own_language() -> None:
    assert raw("en", "language_name") == "English"
    assert raw("ru", "language_name") == "Русский"


def test_unknown_language_falls_back_to_english() -> None:
    assert t("de", "language_set") == EN["language_set"]
