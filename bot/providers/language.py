"""Prompt language versus providers that document English-only prompts (apikley)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import TypeVar

from bot.providers.base import VideoProvider

P = TypeVar("P", bound=VideoProvider)


def is_latin_script(text: str) -> bool:
    """True when every letter of `text` is a Latin one (digits, emoji and punctuation aside)."""
    return all(unicodedata.name(ch, "").startswith("LATIN") for ch in text if ch.isalpha())


def prefer_for_prompt(candidates: Sequence[P], prompt: str) -> list[P]:
    """A prompt in another script goes first to providers without an English-only limit; the
    English-only ones stay at the end as the last resort (the user was told before paying)."""
    if is_latin_script(prompt):
        return list(candidates)
    free = [p for p in candidates if not p.english_only_prompts]
    return free + [p for p in candidates if p not in free]


def english_only_warning(providers: Sequence[VideoProvider], prompt: str) -> bool:
    """True when the job would go to an English-only provider with a non-Latin prompt."""
    ordered = prefer_for_prompt(providers, prompt)
    return bool(ordered) and ordered[0].english_only_prompts and (not is_latin_script(prompt))
