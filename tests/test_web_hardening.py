"""A server that sheds abuse (issue 13) and cheap callback ingest (issue 16): strict path
parameters (404, never 500), forged and duplicate callbacks answered without a database round
trip or a log line each, duplicates coalesced into one wake-up, header and body read timeouts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from bot.models import Job
from bot.runtime import BotRuntime
from bot.storage.sqlite import SqliteEngine
from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from bot.web import BODY_TIMEOUT_S, HEADER_TIMEOUT_S
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import options_message_id, press, send_photo_and_get_options
from tests.idle_barrier import bot_tasks_done

ODD_TOKENS = [
    "²-" + "A" * 32,  # a Unicode digit: str.isdigit() says yes, int() says no
    "1" * 20 + "-" + "A" * 32,  # past a 64-bit integer
    "1" * 5000 + "-" + "A" * 32,
    "01-" + "A" * 32,
    "-1-" + "A" * 32,
    "1-",
    "1",
    "1-" + "é" * 32,
    "1-" + "A" * 500,
    "%00-" + "A" * 32,
]


async def submitted_job(tg: FakeBotApi, evolink: EvolinkFake, runtime: BotRuntime) -> Job:
    _photo, options = await send_photo_and_get_options(tg, USER, "waves")
    await press(tg, USER, USER, options_message_id(tg, USER, options), "Generate")
    await evolink.wait_task()
    assert runtime.ctx is not None
    while True:  # the create answer is recorded right after the fake saw the request
        job = (await runtime.ctx.store.recent_for_user(USER))[0]
        if job.task_id is not None:
            return job
        await asyncio.sleep(0)


async def wait_bot_idle(runtime: BotRuntime) -> None:
    """Every background task of the bot finished, except its endless poller loop."""
    await bot_tasks_done(runtime)


@asynccontextmanager
async def sql_statements(runtime: BotRuntime) -> AsyncIterator[list[str]]:
    """Every SQL statement the bot's database runs inside the block (sqlite's own trace)."""
    assert runtime.ctx is not None
    engine = runtime.ctx.store.db.engine
    assert isinstance(engine, SqliteEngine)  # the test bed's default engine
    conn = engine.conn
    seen: list[str] = []
    await conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        await conn.set_trace_callback(None)


def job_reads(statements: list[str]) -> list[str]:
    """The statements that read one job by id (what checking a callback against it costs);
    the poller's own periodic query is not one of them."""
    return [s for s in statements if "FROM jobs WHERE id =" in s]


def callback_metric(runtime: BotRuntime, outcome: str) -> float:
    value = runtime.metrics.registry.get_sample_value("p2v_callbacks_total", {"outcome": outcome})
    return value or 0.0


async def test_malformed_job_ids_are_404_never_500(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime, httpx.AsyncClient() as client:
        base = f"http://127.0.0.1:{runtime.port}/callbacks"
        answers = [
            (await client.post(f"{base}/evolink/{token}", json={"id": "x"})).status_code
            for token in ODD_TOKENS
        ]
        unknown_provider = await client.post(f"{base}/nope/1-{'A' * 32}", json={})
    assert answers == [404] * len(ODD_TOKENS)
    assert unknown_provider.status_code == 404
    assert callback_metric(runtime, "forged") == len(ODD_TOKENS) + 1


async def test_forged_callbacks_cost_no_query_no_task_and_one_log_line(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async with start_bot() as runtime, httpx.AsyncClient() as client:
        job = await submitted_job(tg, evolink, runtime)
        url = f"http://127.0.0.1:{runtime.port}/callbacks/evolink/{job.id}-{'B' * 32}"
        body = {"id": job.task_id, "status": "completed"}
        await client.post(url, json=body)  # the first one may read the job once
        await wait_bot_idle(runtime)
        caplog.clear()
        async with sql_statements(runtime) as statements:
            answers = [(await client.post(url, json=body)).status_code for _ in range(50)]
        await wait_bot_idle(runtime)
    assert answers == [404] * 50
    assert job_reads(statements) == [], "a forged callback must not reach the database"
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) <= 1, "refused callbacks are logged at most once a minute"
    assert callback_metric(runtime, "forged") == 51
    assert evolink.requests_to("query") == []


async def test_duplicate_callbacks_coalesce_into_one_wakeup(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime, httpx.AsyncClient() as client:
        job = await submitted_job(tg, evolink, runtime)
        url = f"http://127.0.0.1:{runtime.port}/callbacks/evolink/{job.id}-{job.callback_secret}"
        body = {"id": job.task_id, "status": "processing"}
        async with sql_statements(runtime) as statements:
            answers = await asyncio.gather(*(client.post(url, json=body) for _ in range(40)))
            await wait_bot_idle(runtime)
        assert [a.status_code for a in answers] == [200] * 40
        # One wake-up ran, plus at most one queued behind it for news it might have missed.
        assert 1 <= len(evolink.requests_to("query")) <= 2
        assert callback_metric(runtime, "ok") == 1
        assert callback_metric(runtime, "duplicate") == 39
        # The burst shares one read of the job; each wake-up reads it a few times (wake, check,
        # progress): far below one read per callback plus a wake-up's reads per callback.
        assert len(job_reads(statements)) < 10


async def test_half_sent_headers_and_bodies_are_cut_off(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        port = runtime.port
        assert port is not None

        async def half_headers() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /callbacks/evolink/1-" + b"A" * 32 + b" HTTP/1.1\r\nHost: x\r\n")
            await writer.drain()
            try:
                return await asyncio.wait_for(reader.read(), HEADER_TIMEOUT_S * 4)
            finally:
                writer.close()

        async def half_body() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            job_path = f"/callbacks/evolink/{job.id}-{job.callback_secret}"
            writer.write(
                f"POST {job_path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Content-Length: 100\r\n\r\n{".encode()
            )
            await writer.drain()
            try:
                return await asyncio.wait_for(reader.read(), BODY_TIMEOUT_S * 4)
            finally:
                writer.close()

        job = await submitted_job(tg, evolink, runtime)
        headers, body = await asyncio.gather(half_headers(), half_body())
    assert headers == b"", "a connection that never finishes its headers is closed"
    assert body.startswith(b"HTTP/1.1 408"), body[:80]


def test_reject_log_writes_at_most_one_line_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    from bot.callback_ingest import RejectLog

    now = [0.0]
    rejects = RejectLog("provider callbacks", clock=lambda: now[0])
    caplog.set_level(logging.WARNING)
    for step in range(600):  # ten minutes, a refusal every second
        now[0] = float(step)
        rejects.note("wrong secret")
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.callback_ingest"]
    assert len(lines) == 10
    assert "wrong secret: 60" in lines[1]
