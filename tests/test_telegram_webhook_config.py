"""The webhook URL is checked against what the cloud Bot API accepts, at start-up."""

from __future__ import annotations

import pytest

from tests.test_config import BASE, load, problems, variables


@pytest.mark.parametrize(
    "url", ["https://bot.example.com:8080/tg", "https://bot.example.com:444/tg"]
)
def test_a_webhook_port_telegram_does_not_deliver_to_is_refused(url: str) -> None:
    lines = problems({**BASE, "TELEGRAM_WEBHOOK_URL": url, "TELEGRAM_WEBHOOK_SECRET": "s3cret"})
    assert variables(lines) == ["TELEGRAM_WEBHOOK_URL"]
    assert "80, 88, 443, 8443" in lines[0]
    assert "/tg" not in lines[0]  # the path may be secret: never quoted back


@pytest.mark.parametrize(
    "url",
    [
        "https://bot.example.com/tg",
        "https://bot.example.com:443/tg",
        "https://bot.example.com:8443/tg",
        "https://bot.example.com:88/tg",
        "https://bot.example.com:80/tg",
    ],
)
def test_telegram_webhook_ports_pass(url: str) -> None:
    assert load(TELEGRAM_WEBHOOK_URL=url, TELEGRAM_WEBHOOK_SECRET="s3cret").webhook_mode


def test_plain_http_webhook_needs_a_local_bot_api_server() -> None:
    url = "http://127.0.0.1:8080/tg"
    lines = problems(
        {
            **BASE,
            "TELEGRAM_WEBHOOK_URL": url,
            "TELEGRAM_WEBHOOK_SECRET": "s",
            "ALLOW_PRIVATE_URLS": "1",
        }
    )
    assert variables(lines) == ["TELEGRAM_WEBHOOK_URL"]
    assert "TELEGRAM_LOCAL_MODE" in lines[0]
    local = load(
        TELEGRAM_WEBHOOK_URL=url,
        TELEGRAM_WEBHOOK_SECRET="s",
        ALLOW_PRIVATE_URLS="true",
        TELEGRAM_LOCAL_MODE="true",
    )
    assert local.webhook_mode and local.telegram_local_mode
