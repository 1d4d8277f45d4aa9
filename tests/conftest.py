"""Shared fixtures: the fake Bot API, fake providers, and the real bot wired to them.

The bot is configured only through its operator variables (as `python -m bot` would be) and
talks real HTTP on 127.0.0.1 to the fakes; tests wait on what the fakes record, never on sleeps.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_settings
from bot.logs import quiet_noisy_loggers
from bot.runtime import BotRuntime
from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from tests.pg_server import pg_server  # noqa: F401 (issue 17: the PostgreSQL test server)
from tests.ports import free_port

TOKEN = "123456789:TESTtokenNotReal_0123456789abcdefXYZ"
USER = 1001
OTHER_USER = 1002


@pytest.fixture(name="tg")
async def _tg() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi(TOKEN)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture(name="evolink")
async def _evolink() -> AsyncIterator[EvolinkFake]:
    fake = EvolinkFake(time_scale=0.01, loopback_callbacks=True)  # e2e: called back on 127.0.0.1
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture(name="env")
def _env(tmp_path: Path, tg: FakeBotApi, evolink: EvolinkFake) -> dict[str, str]:
    port = free_port()
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(port),
        "DATABASE_PATH": str(tmp_path / "data" / "bot.db"),
        "EVOLINK_API_KEY": evolink.api_key,
        "EVOLINK_BASE_URL": evolink.base_url,
        "ALLOW_PRIVATE_URLS": "true",
        "DAILY_QUOTA": "5",
        # Callbacks normally arrive first; tests that want polling lower the grace period.
        "CALLBACK_GRACE_S": "60",
        "POLL_INITIAL_S": "0.05",
        "POLL_MAX_S": "0.2",
        # Status edits are paced at 5 s in production; tests read each state as it happens.
        "STATUS_EDIT_INTERVAL_S": "0.05",
    }


BotFactory = Callable[..., Any]

# Every secret a test configures; no log record of any test may contain one.
SECRETS = [TOKEN, TOKEN.split(":", 1)[1], "test-key-evolink", "test-key-apikley",
           "test-key-foxapi", "test-key-aimlapi", "s3cret_value-1", "right_secret"]  # fmt: skip


@pytest.fixture(autouse=True)
def _no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The whole suite's log lines, as production configures loggers, never carry a secret."""
    quiet_noisy_loggers()
    caplog.set_level(logging.INFO)
    yield
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        leaked = [s for s in SECRETS if s in text]
        assert not leaked, f"secret in log line from {record.name}: {text[:200]!r}"


@pytest.fixture(name="start_bot")
async def _start_bot(env: dict[str, str]) -> AsyncIterator[BotFactory]:
    """`async with start_bot(**overrides) as runtime:` runs the real bot in this loop."""
    running: list[BotRuntime] = []

    @asynccontextmanager
    async def start(**overrides: str) -> AsyncIterator[BotRuntime]:
        settings = load_settings({**env, **overrides}, env_file=None)
        runtime = BotRuntime(settings)
        running.append(runtime)
        try:
            await runtime.start()
            yield runtime
        finally:
            await runtime.stop()
            running.remove(runtime)

    yield start
    for runtime in running:
        await runtime.stop()
