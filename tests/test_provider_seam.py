"""The provider seam says what it means: the Protocol states cancel, discard, balance and
in-process; vendors come from one table; vendor JSON stays inside the adapters."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx

from bot.config import REMOTE_PROVIDERS, load_settings
from bot.models import TaskEvent
from bot.providers.base import VideoProvider
from bot.providers.registry import VENDORS, build_providers

TOKEN = "123456:ABC-test-token"


def settings_with_every_key(order: str) -> dict[str, str]:
    keys = {f"{name.upper()}_API_KEY": f"sk-{name}" for name in REMOTE_PROVIDERS}
    public = {"PUBLIC_BASE_URL": "https://bot.example.org"}
    return {"TELEGRAM_BOT_TOKEN": TOKEN, "PROVIDER_ORDER": order, **public, **keys}


def test_the_vendor_table_and_the_configuration_name_the_same_vendors() -> None:
    assert [vendor.name for vendor in VENDORS] == list(REMOTE_PROVIDERS)


async def test_every_vendor_is_built_in_provider_order_and_states_the_whole_seam(
    tmp_path: Path,
) -> None:
    order = ",".join(reversed(REMOTE_PROVIDERS))
    settings = load_settings(settings_with_every_key(order), env_file=None)
    async with httpx.AsyncClient() as http:
        registry = build_providers(settings, http, tmp_path)
        assert [p.name for p in registry.providers] == list(reversed(REMOTE_PROVIDERS))
        for provider in registry.providers:
            assert isinstance(provider, VideoProvider)
            assert provider.in_process is False and not registry.in_process(provider.name)
            assert provider.cancel("some-task") is False  # no vendor documents a cancel
            provider.discard("some-task")


async def test_without_keys_the_in_process_renderer_is_the_provider(tmp_path: Path) -> None:
    settings = load_settings({"TELEGRAM_BOT_TOKEN": TOKEN}, env_file=None)
    async with httpx.AsyncClient() as http:
        registry = build_providers(settings, http, tmp_path)
        (local,) = registry.providers
        try:
            assert isinstance(local, VideoProvider)
            assert local.in_process and registry.in_process(local.name)
            assert not registry.in_process(None) and not registry.in_process("evolink")
            assert await local.balance() is None
        finally:
            await local.aclose()


def test_task_events_carry_only_neutral_fields() -> None:
    """Vendor JSON never leaves its adapter: an event has no field to carry it out."""
    names = {f.name for f in dataclasses.fields(TaskEvent)}
    assert names == {
        "task_id", "state", "progress", "video_url", "video_path", "error_kind", "error_code",
        "error_message", "eta_s", "cost",
    }  # fmt: skip
