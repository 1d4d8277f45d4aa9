"""Which models are offered and which providers may take a job (failover order)."""

from __future__ import annotations

import httpx

from bot.providers.apikley import ApikleyProvider
from bot.providers.evolink import EvolinkProvider
from bot.providers.foxapi import FoxapiProvider
from bot.providers.registry import ProviderRegistry


def registry() -> ProviderRegistry:
    client = httpx.AsyncClient()
    return ProviderRegistry(
        [
            EvolinkProvider(client, api_key="k", base_url="http://e"),
            ApikleyProvider(client, api_key="k", base_url="http://a"),
            FoxapiProvider(client, api_key="k", base_url="http://f"),
        ]
    )


def test_a_model_sold_by_several_providers_appears_once_with_the_first_providers_options() -> None:
    reg = registry()
    models = reg.models()
    assert list(models) == ["grok", "happyhorse"]
    assert [o.name for o in models["grok"].options] == ["mode", "duration", "quality"]


def test_failover_only_to_providers_that_can_make_what_was_chosen() -> None:
    reg = registry()
    defaults = reg.models()["grok"].defaults()
    assert [p.name for p in reg.candidates("grok", defaults)] == ["evolink", "apikley", "foxapi"]
    fun = {**defaults, "mode": "fun"}
    assert [p.name for p in reg.candidates("grok", fun)] == ["evolink", "apikley"]
    long = {**defaults, "duration": "10"}
    assert [p.name for p in reg.candidates("grok", long)] == ["evolink", "foxapi"]
    spicy = {**defaults, "mode": "spicy"}
    assert [p.name for p in reg.candidates("grok", spicy)] == ["evolink"]
    assert [
        p.name for p in reg.candidates("happyhorse", reg.models()["happyhorse"].defaults())
    ] == ["evolink"]
    assert reg.candidates("nope", {}) == []
