"""Builds the configured providers and answers "which models, which provider first"."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import httpx

from bot.catalog import ModelSpec
from bot.config import Settings
from bot.providers.base import VideoProvider


class ProviderRegistry:
    """Providers in the operator's order; a model sold by several appears once."""

    def __init__(self, providers: Sequence[VideoProvider]) -> None:
        if not providers:
            raise ValueError("at least one provider is needed")
        self.providers = list(providers)
        self._by_name = {p.name: p for p in self.providers}

    def get(self, name: str) -> VideoProvider | None:
        return self._by_name.get(name)

    def models(self) -> dict[str, ModelSpec]:
        """Model key -> the spec of the first provider (in order) that sells it."""
        out: dict[str, ModelSpec] = {}
        for provider in self.providers:
            for key, spec in provider.models.items():
                out.setdefault(key, spec)
        return out

    def default_model(self) -> str:
        return next(iter(self.models()))

    def candidates(self, model: str, values: dict[str, str]) -> list[VideoProvider]:
        """Providers that can make this model as chosen, in order (failover goes down the list).

        A provider qualifies when it accepts every chosen value it has an option for, and every
        option it lacks was left at its default (so the user gets what they picked and paid for).
        """
        origin = self.models().get(model)
        if origin is None:
            return []
        return [
            p
            for p in self.providers
            if model in p.models and _can_make(p.models[model], origin, values)
        ]


def _can_make(spec: ModelSpec, origin: ModelSpec, values: dict[str, str]) -> bool:
    for name, value in values.items():
        own = spec.option(name)
        if own is not None:
            if value not in own.values:
                return False
            continue
        shown = origin.option(name)
        if shown is None or value != shown.default:
            return False
    return True


def build_providers(
    settings: Settings, client: httpx.AsyncClient, work_dir: Path
) -> ProviderRegistry:
    """The remote providers with a key, in PROVIDER_ORDER; the local renderer when none."""
    from bot.providers.aimlapi import AimlapiProvider
    from bot.providers.apikley import ApikleyProvider
    from bot.providers.evolink import EvolinkProvider
    from bot.providers.foxapi import FoxapiProvider
    from bot.providers.local import LocalProvider

    providers: list[VideoProvider] = []
    for name, key in settings.provider_keys().items():
        secret = key.get_secret_value()
        if name == "evolink":
            providers.append(
                EvolinkProvider(client, api_key=secret, base_url=settings.evolink_base_url)
            )
        elif name == "apikley":
            hmac_key = settings.apikley_webhook_hmac_key
            providers.append(
                ApikleyProvider(
                    client,
                    api_key=secret,
                    base_url=settings.apikley_base_url,
                    hmac_key=hmac_key.get_secret_value() if hmac_key else None,
                )
            )
        elif name == "foxapi":
            providers.append(
                FoxapiProvider(client, api_key=secret, base_url=settings.foxapi_base_url)
            )
        elif name == "aimlapi":
            providers.append(
                AimlapiProvider(client, api_key=secret, base_url=settings.aimlapi_base_url)
            )
    if not providers:
        providers.append(LocalProvider(work_dir / "local"))
    return ProviderRegistry(providers)
