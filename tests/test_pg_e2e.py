"""The real bot on PostgreSQL (issue 17): the end-to-end flows of tests/test_e2e_flow.py with
DATABASE_URL pointing at a fresh PostgreSQL database (same fakes, same checks).

One difference: the provider's task is finished only once the bot shows "Generating", i.e. has
recorded the task id. A callback that arrives while the create request's answer is still being
recorded only wakes a job that is not waiting yet, and the job then waits for its first poll
(CALLBACK_GRACE_S, 60 s here); on SQLite that window is shorter than the fake's callback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.runtime import BotRuntime
from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import options_message_id, press, send_photo_and_get_options
from tests.pg_server import PgServer, drop_database, fresh_database

# Imported, so pytest collects it here too, with the `env` below (no provider task involved).
from tests.test_e2e_flow import (  # noqa: F401
    test_quota_exhausted_is_refused_before_any_provider_request,
)


@pytest.fixture(name="env")
async def _pg_env(env: dict[str, str], pg_server: PgServer) -> AsyncIterator[dict[str, str]]:
    url = await fresh_database(pg_server)
    yield {**env, "DATABASE_URL": url}
    await drop_database(pg_server, url)


def status_text(tg: FakeBotApi, message_id: int) -> str:
    return str((tg.message(USER, message_id) or {}).get("text", ""))


async def generate_and_wait_submitted(
    tg: FakeBotApi, evolink: EvolinkFake
) -> tuple[int, int, str]:
    """Photo, Generate, and the task recorded; returns (photo id, status message id, task id)."""
    photo, options = await send_photo_and_get_options(tg, USER, "waves")
    msg_id = options_message_id(tg, USER, options)
    await press(tg, USER, USER, msg_id, "Generate")
    task = await evolink.wait_task()
    await tg.wait_until(lambda: "Generating" in status_text(tg, msg_id), timeout=15)
    return photo["message_id"], msg_id, task.id


async def kinds(runtime: BotRuntime) -> list[str]:
    assert runtime.ctx is not None
    return [str(r["kind"]) for r in await runtime.ctx.ledger.rows(USER)]


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_the_whole_flow_on_postgresql(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory, env: dict[str, str], mode: str
) -> None:
    overrides = {}
    if mode == "webhook":
        overrides = {
            "TELEGRAM_WEBHOOK_URL": f"{env['PUBLIC_BASE_URL']}/telegram/webhook",
            "TELEGRAM_WEBHOOK_SECRET": "s3cret_value-1",
            "TELEGRAM_LOCAL_MODE": "true",  # plain http:// on a test port: a local Bot API server
        }
        tg.local_mode = True
    async with start_bot(**overrides) as runtime:
        assert runtime.db.dialect == "postgresql" and runtime.db.url == env["DATABASE_URL"]
        photo_id, msg_id, task_id = await generate_and_wait_submitted(tg, evolink)
        assert "/media/" in evolink.tasks[task_id].body["image_urls"][0]
        evolink.succeed(task_id)
        video = await tg.wait_call("sendVideo", timeout=20)
        assert video.params["reply_parameters"]["message_id"] == photo_id
        await tg.wait_until(lambda: "Done" in status_text(tg, msg_id))
        assert await kinds(runtime) == ["allowance", "reserve", "settle"]
        if mode == "webhook":
            assert tg.calls_of("getUpdates") == []
            assert all(status == 200 for _, status in tg.webhook_deliveries)


async def test_duplicate_callbacks_deliver_once(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    evolink.duplicate_callbacks = 3
    async with start_bot() as runtime:
        _, msg_id, task_id = await generate_and_wait_submitted(tg, evolink)
        evolink.succeed(task_id)
        await tg.wait_call("sendVideo", timeout=20)
        await evolink.wait_callback_attempts(4)
        await evolink.idle()
        await tg.wait_until(lambda: "Done" in status_text(tg, msg_id))
        assert runtime.ctx is not None
        jobs = await runtime.ctx.store.recent_for_user(USER)
        assert [j.status.value for j in jobs] == ["delivered"]
        assert len(tg.calls_of("sendVideo")) == 1
        assert await kinds(runtime) == ["allowance", "reserve", "settle"]


async def test_provider_failure_tells_the_user_and_refunds(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        photo_id, _, task_id = await generate_and_wait_submitted(tg, evolink)
        evolink.fail(task_id, "content_policy_violation", "Content policy violation.")
        failed = await tg.wait_call(
            "sendMessage", lambda c: "content rules" in c.params.get("text", "").lower()
        )
        assert failed.params["reply_parameters"]["message_id"] == photo_id
        assert "refunded" in failed.params["text"]
        assert await kinds(runtime) == ["allowance", "reserve", "refund"]
        assert runtime.ctx is not None
        assert (await runtime.ctx.ledger.balance(USER)).total == 5
