"""Builds the configured providers and answers "which models, which provider first"."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import SecretStr

from bot.catalog import ModelSpec
from bot.config import Settings
from bot.providers.aimlapi import AimlapiProvider
from bot.providers.apikley import ApikleyProvider
from bot.providers.base import VideoProvider
from bot.providers.evolink import EvolinkProvider
from bot.providers.foxapi import FoxapiProvider
from bot.providers.local import LocalProvider


class ProviderRegistry:
    """Providers in the operator's order; a model sold by several appears once."""

    def __init__(self, providers: Sequence[VideoProvider]) -> None:
        if not providers:
            raise ValueError("at least one provider is needed")
        self.providers = list(providers)
        self._by_name = {p.name: p for p in self.providers}

    def get(self, name: str) -> VideoProvider | None:
        return self._by_name.get(name)

    def in_process(self, name: str | None) -> bool:
        """Whether the named provider is the in-process renderer (the one way to ask)."""
        provider = self._by_name.get(name or "")
        return provider is not None and provider.in_process

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


@dataclass(frozen=True)
class Vendor:
    """One remote vendor: its name (as in PROVIDER_ORDER and `<NAME>_API_KEY`) and how to build
    its adapter from the settings, the shared HTTP client and its API key."""

    name: str
    build: Callable[[Settings, httpx.AsyncClient, str], VideoProvider]


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


# Every remote vendor. Adding one: its adapter module, a row here, and its key and base URL in
# bot/config.py (the operator contract).
VENDORS: tuple[Vendor, ...] = (
    Vendor("evolink", lambda s, http, key: EvolinkProvider(
        http, api_key=key, base_url=s.evolink_base_url)),
    Vendor("apikley", lambda s, http, key: ApikleyProvider(
        http, api_key=key, base_url=s.apikley_base_url,
        hmac_key=_secret(s.apikley_webhook_hmac_key))),
    Vendor("foxapi", lambda s, http, key: FoxapiProvider(
        http, api_key=key, base_url=s.foxapi_base_url)),
    Vendor("aimlapi", lambda s, http, key: AimlapiProvider(
        http, api_key=key, base_url=s.aimlapi_base_url)),
)  # fmt: skip


def build_providers(
    settings: Settings, client: httpx.AsyncClient, work_dir: Path
) -> ProviderRegistry:
    """The remote vendors with a key, in PROVIDER_ORDER; the local renderer when none."""
    by_name = {vendor.name: vendor for vendor in VENDORS}
    providers = [
        by_name[name].build(settings, client, key.get_secret_value())
        for name, key in settings.provider_keys().items()
        if name in by_name
    ]
    if not providers:
        providers.append(LocalProvider(work_dir / "local"))
    return ProviderRegistry(providers)
