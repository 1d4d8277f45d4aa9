"""The real bot on PostgreSQL (issue 17): end-to-end tests of the SQLite suite, run again with
DATABASE_URL pointing at a fresh PostgreSQL database (same fakes, same assertions)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from tests.conftest import USER, BotFactory
from tests.pg_server import PgServer, drop_database, fresh_database

# Imported, so pytest collects them here too, with the `env` below.
from tests.test_e2e_flow import (  # noqa: F401
    generate_job,
    test_happy_path_polling_mode,
    test_happy_path_webhook_mode,
    test_provider_failure_tells_the_user_and_refunds,
    test_quota_exhausted_is_refused_before_any_provider_request,
)


@pytest.fixture(name="env")
async def _pg_env(env: dict[str, str], pg_server: PgServer) -> AsyncIterator[dict[str, str]]:
    url = await fresh_database(pg_server)
    yield {**env, "DATABASE_URL": url}
    await drop_database(pg_server, url)


async def test_the_bot_really_stores_in_postgresql(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory, env: dict[str, str]
) -> None:
    async with start_bot() as runtime:
        assert runtime.db.dialect == "postgresql" and runtime.db.url == env["DATABASE_URL"]
        await generate_job(tg)
        task = await evolink.wait_task()
        evolink.succeed(task.id)
        await tg.wait_call("sendVideo", timeout=20)
        assert runtime.ctx is not None
        kinds = [r["kind"] for r in await runtime.ctx.ledger.rows(USER)]
        assert kinds[:2] == ["allowance", "reserve"]


async def test_duplicate_callbacks_deliver_once(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    """As in test_e2e_flow, but waits for "Done" (recorded after the delivery) instead of using
    a read as a barrier: on PostgreSQL reads do not queue behind the writer."""
    evolink.duplicate_callbacks = 3
    async with start_bot() as runtime:
        _, msg_id = await generate_job(tg)
        task = await evolink.wait_task()
        evolink.succeed(task.id)
        await tg.wait_call("sendVideo", timeout=20)
        await evolink.wait_callback_attempts(4)
        await evolink.idle()
        await tg.wait_until(lambda: "Done" in (tg.message(USER, msg_id) or {}).get("text", ""))
        assert runtime.ctx is not None
        jobs = await runtime.ctx.store.recent_for_user(USER)
        assert [j.status.value for j in jobs] == ["delivered"]
        assert len(tg.calls_of("sendVideo")) == 1
        kinds = [r["kind"] for r in await runtime.ctx.ledger.rows(USER)]
        assert kinds == ["allowance", "reserve", "settle"]
