"""Webhook mode is secure by default: a secret is required and the path has an unguessable part."""

from __future__ import annotations

import re

import httpx
import pytest

from bot.config import ConfigError, load_settings
from bot.testing.bot_api import FakeBotApi
from tests.conftest import USER, BotFactory

BASE = {"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_WEBHOOK_URL": "https://bot.example.com/tg"}
FORGED = {
    "update_id": 777,
    "message": {
        "message_id": 1, "date": 1700000000, "text": "/grant 666 1000000",
        "chat": {"id": USER, "type": "private"},
        "from": {"id": USER, "is_bot": False, "first_name": "Mallory"},
        "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
    },
}  # fmt: skip


def test_webhook_mode_without_a_secret_refuses_to_start() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(BASE, env_file=None)
    assert any(p.startswith("TELEGRAM_WEBHOOK_SECRET: required") for p in caught.value.problems)
    assert "TELEGRAM_WEBHOOK_INSECURE=true" in str(caught.value)


def test_the_insecure_flag_is_explicit() -> None:
    s = load_settings({**BASE, "TELEGRAM_WEBHOOK_INSECURE": "true"}, env_file=None)
    assert s.webhook_mode and s.telegram_webhook_secret is None
    with pytest.raises(ConfigError):
        load_settings({**BASE, "TELEGRAM_WEBHOOK_INSECURE": "false"}, env_file=None)


def test_the_path_token_is_stable_unguessable_and_not_the_secret() -> None:
    secret = "s3cret_value-1"
    first = load_settings({**BASE, "TELEGRAM_WEBHOOK_SECRET": secret}, env_file=None)
    again = load_settings({**BASE, "TELEGRAM_WEBHOOK_SECRET": secret}, env_file=None)
    other = load_settings({**BASE, "TELEGRAM_WEBHOOK_SECRET": "another"}, env_file=None)
    token = first.webhook_path_token
    assert token is not None and re.fullmatch(r"[0-9a-f]{32}", token)
    assert token == again.webhook_path_token != other.webhook_path_token
    assert secret not in (first.webhook_endpoint or "")
    assert first.webhook_endpoint == f"https://bot.example.com/tg/{token}"
    insecure = load_settings({**BASE, "TELEGRAM_WEBHOOK_INSECURE": "1"}, env_file=None)
    assert insecure.webhook_path_token not in (None, token)  # keyed by the token instead
    assert "abc" not in (insecure.webhook_endpoint or "").removeprefix("https://")
    plain = load_settings(
        {**BASE, "TELEGRAM_WEBHOOK_SECRET": secret, "TELEGRAM_WEBHOOK_RANDOM_PATH": "false"},
        env_file=None,
    )
    assert plain.webhook_endpoint == BASE["TELEGRAM_WEBHOOK_URL"]
    polling = load_settings({"TELEGRAM_BOT_TOKEN": "123:abc"}, env_file=None)
    assert polling.webhook_path_token is None and polling.webhook_endpoint is None


async def test_a_forged_update_on_the_guessable_path_finds_nothing(
    tg: FakeBotApi, start_bot: BotFactory, env: dict[str, str]
) -> None:
    guessable = f"{env['PUBLIC_BASE_URL']}/telegram/webhook"
    tg.local_mode = True  # plain http:// on a test port: a local Bot API server delivers there
    async with start_bot(
        TELEGRAM_WEBHOOK_URL=guessable,
        TELEGRAM_WEBHOOK_INSECURE="true",
        TELEGRAM_LOCAL_MODE="true",
    ):
        real = tg.webhook_url or ""
        assert real.startswith(guessable + "/") and tg.webhook_secret is None
        async with httpx.AsyncClient() as client:
            forged = await client.post(guessable, json=FORGED)
        assert forged.status_code == 404
        tg.user_text(USER, USER, "hello")  # genuine updates arrive on the real path
        await tg.wait_call("sendMessage")
    assert all(status == 200 for _, status in tg.webhook_deliveries)
    assert all("Mallory" not in str(c.params) for c in tg.calls)
