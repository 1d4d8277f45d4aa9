"""Contract tests (issue 11): every option combination the bot can offer, for every provider and
model, built as in production (an https PUBLIC_BASE_URL) and sent by the real adapter to the
provider's fake with its strictest validation, which is the fake's default. Each must be
accepted; and what each fake refuses is what its document does not list.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.catalog import ModelSpec
from bot.models import VideoOptions
from bot.providers.aimlapi import AimlapiProvider
from bot.providers.apikley import ApikleyProvider
from bot.providers.base import VideoRequest
from bot.providers.evolink import EvolinkProvider
from bot.providers.foxapi import FoxapiProvider
from bot.providers.registry import ProviderRegistry
from bot.testing.providers import (
    AimlapiFake,
    ApikleyFake,
    EvolinkFake,
    FakeProviderServer,
    FoxapiFake,
)

PUBLIC = "https://bot.example.com"  # production: https, a public host (never fetched by a fake)
ADAPTERS: dict[str, tuple[type[Any], type[FakeProviderServer]]] = {
    "evolink": (EvolinkProvider, EvolinkFake),
    "apikley": (ApikleyProvider, ApikleyFake),
    "foxapi": (FoxapiProvider, FoxapiFake),
    "aimlapi": (AimlapiProvider, AimlapiFake),
}
SHAPES = ((640, 480), (480, 854), (1000, 1000), (2400, 1000))  # landscape, portrait, square, wide


def combinations(spec: ModelSpec) -> Iterator[dict[str, str]]:
    names = [o.name for o in spec.options]
    for values in itertools.product(*(o.values for o in spec.options)):
        yield dict(zip(names, values, strict=True))


def production_request(
    provider: Any, model: str, values: dict[str, str], size: tuple[int, int], job_id: int
) -> VideoRequest:
    """What JobRunner builds with PUBLIC_BASE_URL=https://bot.example.com."""
    callback = f"{PUBLIC}/callbacks/{provider.name}/{job_id}-{'s' * 32}"
    return VideoRequest(
        "the cat turns its head and smiles",
        VideoOptions(model, values),
        Path("/unused.jpg"),
        f"{PUBLIC}/media/{'t' * 43}",
        callback if provider.uses_callbacks else None,
        image_size=size,
        seed=123456789 if provider.models[model].seeded else None,
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as http:
        yield http


@pytest.mark.parametrize("vendor", list(ADAPTERS))
async def test_every_offered_combination_passes_the_strict_fake(
    vendor: str, client: httpx.AsyncClient
) -> None:
    adapter_cls, fake_cls = ADAPTERS[vendor]
    async with fake_cls() as fake:
        assert fake.strict  # the strictest validation is the default
        provider = adapter_cls(client, api_key=fake.api_key, base_url=fake.base_url)
        sent = 0
        for model, spec in provider.models.items():
            for values in combinations(spec):
                for size in SHAPES:
                    sent += 1
                    request = production_request(provider, model, values, size, sent)
                    submitted = await provider.submit(request)
                    assert submitted.task_id in fake.tasks, (model, values, size)
                    # finish it: a limit on concurrent tasks must not refuse the next one
                    fake.succeed(submitted.task_id)
        assert sent == len(fake.tasks) > 0  # a refusal would have raised in submit()


def test_failover_only_to_a_provider_that_honours_every_chosen_option() -> None:
    """A job priced for 720p on evolink never lands on aimlapi, which cannot honour it; a
    job at the free defaults may."""
    http = httpx.AsyncClient()
    evolink = EvolinkProvider(http, api_key="k", base_url="https://e.example")
    aimlapi = AimlapiProvider(http, api_key="k", base_url="https://a.example")
    registry = ProviderRegistry([evolink, aimlapi])
    names = [p.name for p in registry.candidates("grok", {"quality": "720p", "duration": "6"})]
    assert names == ["evolink"]
    names = [p.name for p in registry.candidates("grok", {"quality": "480p", "duration": "10"})]
    assert names == ["evolink", "aimlapi"]
