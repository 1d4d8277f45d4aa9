"""Per-user limits: a burst of photos gets one "slow down", not one options message each."""

from __future__ import annotations

from bot.runtime import BotRuntime
from bot.testing.bot_api import FakeBotApi
from bot.testing.sample_media import make_sample_photo
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import is_options_message

OTHER = USER + 1


async def _idle(tg: FakeBotApi, runtime: BotRuntime) -> None:
    """Every update taken and every handler finished (PTB's stop() joins its update queue)."""
    await tg.wait_until(lambda: not tg.pending_updates)
    assert runtime.app is not None
    await runtime.app.stop()


def _texts(tg: FakeBotApi, chat_id: int) -> list[str]:
    return [
        str(c.params.get("text"))
        for c in tg.calls_of("sendMessage")
        if c.status == 200 and c.params["chat_id"] == chat_id and not is_options_message(c)
    ]


def _options(tg: FakeBotApi, chat_id: int) -> int:
    return sum(
        1
        for c in tg.calls_of("sendMessage")
        if c.status == 200 and c.params["chat_id"] == chat_id and is_options_message(c)
    )


async def test_a_burst_of_photos_gets_one_slow_down(tg: FakeBotApi, start_bot: BotFactory) -> None:
    photo = make_sample_photo(320, 240)
    async with start_bot(PHOTOS_PER_MINUTE="4", MAX_DRAFTS_PER_USER="50") as runtime:
        for n in range(12):
            tg.user_photo(USER, USER, photo, f"burst {n}")
        tg.user_photo(OTHER, OTHER, photo, "someone else")  # not slowed by USER's burst
        await _idle(tg, runtime)
    assert _options(tg, USER) == 4
    assert [t for t in _texts(tg, USER) if "Too many photos" in t] == [
        "Too many photos at once. Please wait a minute and send them again."
    ]
    assert _options(tg, OTHER) == 1


async def test_drafts_per_user_are_bounded(tg: FakeBotApi, start_bot: BotFactory) -> None:
    photo = make_sample_photo(320, 240)
    async with start_bot(MAX_DRAFTS_PER_USER="2") as runtime:
        for n in range(3):
            before = _options(tg, USER) + len(_texts(tg, USER))
            tg.user_photo(USER, USER, photo, f"draft {n}")
            await tg.wait_until(lambda b=before: _options(tg, USER) + len(_texts(tg, USER)) > b)  # type: ignore[misc]
        await _idle(tg, runtime)
    assert _options(tg, USER) == 2
    (refusal,) = _texts(tg, USER)
    assert "already have 2 photos waiting" in refusal
