"""The real `python -m bot` as a subprocess: restart mid-job, clean SIGTERM, secret-free logs."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from tests.conftest import TOKEN, USER
from tests.e2e_helpers import options_message_id, press, send_photo_and_get_options

ROOT = Path(__file__).resolve().parents[1]


@asynccontextmanager
async def bot_process(
    env: dict[str, str], log: Path, tg: FakeBotApi
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start `python -m bot`, wait until it polls Telegram, stop it with SIGTERM at the end."""
    polls_before = len(tg.calls_of("getUpdates"))
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=ROOT, stdout=out, stderr=out,
            env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
        )  # fmt: skip
    try:
        await tg.wait_until(lambda: len(tg.calls_of("getUpdates")) > polls_before, timeout=30)
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)


def db_rows(path: str, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return list(conn.execute(sql))


async def test_restart_while_in_flight_delivers_exactly_once_by_polling(
    tg: FakeBotApi, evolink: EvolinkFake, env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "bot.log"
    env = {**env, "CALLBACK_GRACE_S": "0.2"}
    async with bot_process(env, log, tg) as first:
        photo, options = await send_photo_and_get_options(tg, USER, "restart me")
        msg_id = options_message_id(tg, USER, options)
        await press(tg, USER, USER, msg_id, "Generate")
        task = await evolink.wait_task()
        await tg.wait_until(
            lambda: "Generating" in (tg.message(USER, msg_id) or {}).get("text", ""), timeout=15
        )
        first.kill()  # no goodbye: the job is in flight
        await first.wait()
    evolink.succeed(task.id)  # its callbacks hit a dead bot and are lost
    await evolink.wait_callback_attempts(4)
    assert tg.calls_of("sendVideo") == []
    async with bot_process(env, log, tg) as second:
        video = await tg.wait_call("sendVideo", timeout=30)
        assert video.params["reply_parameters"]["message_id"] == photo["message_id"]
        await tg.wait_until(
            lambda: "Done" in (tg.message(USER, msg_id) or {}).get("text", ""), timeout=15
        )
        assert second.returncode is None
    assert second.returncode == 0  # SIGTERM stops it cleanly
    assert len(tg.calls_of("sendVideo")) == 1
    db = env["DATABASE_PATH"]
    assert db_rows(db, "SELECT status FROM jobs WHERE status != 'draft'") == [("delivered",)]
    kinds = db_rows(db, "SELECT kind FROM ledger ORDER BY id")
    assert [k for (k,) in kinds] == ["allowance", "reserve", "settle"]
    text = log.read_text(errors="replace")
    assert "delivered" in text  # the job events were logged…
    for secret in (TOKEN, TOKEN.split(":")[1], evolink.api_key):
        assert secret not in text  # …without any secret


async def test_invalid_configuration_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "HTTP_PORT": "x",
             "EVOLINK_API_KEY": "k", "DAILY_QUOTA": "-1"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    text = err.decode()
    for name in ("TELEGRAM_BOT_TOKEN", "HTTP_PORT", "DAILY_QUOTA", "PUBLIC_BASE_URL"):
        assert name in text
    assert "Traceback" not in text


async def test_a_token_telegram_refuses_exits_2_with_a_clear_message(
    tg: FakeBotApi, env: dict[str, str], tmp_path: Path
) -> None:
    wrong = {**env, "TELEGRAM_BOT_TOKEN": "42:not-the-token-the-fake-knows"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **wrong},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    text = err.decode()
    assert "TELEGRAM_BOT_TOKEN" in text and "Traceback" not in text
    assert "not-the-token" not in text  # not even the wrong token is logged
