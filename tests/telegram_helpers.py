"""Helpers shared by the tests of Telegram's real behaviour (tests/test_telegram_*.py)."""

from __future__ import annotations

from bot.models import Job
from bot.runtime import BotRuntime
from bot.testing.bot_api import FakeBotApi
from bot.testing.bot_api.wire import Call
from tests.e2e_helpers import options_message_id, press, send_photo_and_get_options


async def generate(tg: FakeBotApi, user: int) -> tuple[int, int]:
    """Photo + Generate in a private chat; returns (photo message id, status message id)."""
    photo, options = await send_photo_and_get_options(tg, user, "waves")
    msg_id = options_message_id(tg, user, options)
    await press(tg, user, user, msg_id, "Generate")
    return photo["message_id"], msg_id


async def only_job(runtime: BotRuntime, user: int) -> Job:
    """The user's one job, as the database has it now."""
    assert runtime.ctx is not None
    jobs = await runtime.ctx.store.recent_for_user(user)
    assert len(jobs) == 1, jobs
    return jobs[0]


async def ledger_kinds(runtime: BotRuntime, user: int) -> list[str]:
    assert runtime.ctx is not None
    return [str(r["kind"]) for r in await runtime.ctx.ledger.rows(user)]


def calls_to(tg: FakeBotApi, chat_id: int, after: Call | None = None) -> list[Call]:
    """Every call the bot made to a chat (optionally only those after `after`)."""
    start = tg.calls.index(after) + 1 if after is not None else 0
    return [c for c in tg.calls[start:] if c.params.get("chat_id") == chat_id]
