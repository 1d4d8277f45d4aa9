"""The fake Bot API is as strict as Telegram by default, on a clock the tests move by hand.

Each test drives the fake with a real `telegram.Bot` (PTB parses every answer) and shows one rule
that Telegram applies and that a kinder fake would let a bug slip through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import telegram
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter

from bot.testing.bot_api import FakeBotApi, FloodLimits, ManualClock
from bot.testing.bot_api.callbacks import ANSWER_WINDOW_S

TOKEN = "424242:fake-bot-api-strict-token"
USER = 601
OTHER = 602
GROUP = -4_000_000_601
MP4_WITH_SOUND = b"\0\0\0\x18ftypmp42" + b"\0\0\0\x21hdlr" + bytes(8) + b"soun" + bytes(13)


@pytest.fixture(name="clock")
def _clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(name="fake")
async def _fake(clock: ManualClock) -> AsyncIterator[FakeBotApi]:
    api = FakeBotApi(TOKEN, clock=clock)
    await api.start()
    yield api
    await api.stop()


@pytest.fixture(name="bot")
async def _bot(fake: FakeBotApi) -> AsyncIterator[telegram.Bot]:
    bot = telegram.Bot(
        TOKEN, base_url=f"{fake.base_url}/bot", base_file_url=f"{fake.base_url}/file/bot"
    )
    async with bot:
        yield bot


def _keyboard_message(fake: FakeBotApi, chat_id: int = USER) -> int:
    fake.user_text(chat_id, USER, "hi")
    chat = fake.world.chats[chat_id]
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    message = {"from": fake.world.bot_user, "date": 0, "text": "press", "reply_markup": markup}
    return int(fake.world.add_message(chat, message)["message_id"])


# --- callback queries ---------------------------------------------------------------------


async def test_a_callback_answer_after_the_window_is_refused(
    fake: FakeBotApi, bot: telegram.Bot, clock: ManualClock
) -> None:
    message_id = _keyboard_message(fake)
    in_time = fake.user_click(USER, USER, message_id, "go")
    late = fake.user_click(USER, USER, message_id, "go")
    clock.advance(ANSWER_WINDOW_S - 1)
    assert await bot.answer_callback_query(in_time)
    clock.advance(2)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(late)
    assert fake.callback_queries.expired == {late}
    assert fake.answered_callbacks == {in_time}


async def test_the_answer_window_can_be_switched_off_for_a_test_that_needs_it(
    clock: ManualClock,
) -> None:
    async with FakeBotApi(TOKEN, clock=clock, callback_answer_window_s=None) as fake:
        bot = telegram.Bot(TOKEN, base_url=f"{fake.base_url}/bot")
        async with bot:
            query = fake.user_click(USER, USER, _keyboard_message(fake), "go")
            clock.advance(3600)
            assert await bot.answer_callback_query(query)


# --- flood control ------------------------------------------------------------------------


async def test_one_chat_gets_a_burst_then_about_one_message_a_second(
    fake: FakeBotApi, bot: telegram.Bot, clock: ManualClock
) -> None:
    fake.user_text(USER, USER, "hi")
    burst = int(FloodLimits().chat_burst)
    for n in range(burst):
        await bot.send_message(USER, f"m{n}")
    with pytest.raises(RetryAfter) as refused:
        await bot.send_message(USER, "one too many")
    assert refused.value.retry_after == 1
    clock.advance(0.9)  # a retry before retry_after has passed is refused again
    with pytest.raises(RetryAfter):
        await bot.send_message(USER, "too early")
    clock.advance(0.1)
    await bot.send_message(USER, "on time")
    # Another chat has its own limit; chat actions and answers are not messages.
    fake.user_text(OTHER, OTHER, "hi")
    await bot.send_message(OTHER, "elsewhere")
    await bot.send_chat_action(USER, "typing")
    assert [c.status for c in fake.calls_of("sendMessage")].count(429) == 2
    assert len(fake.bot_messages(USER)) == burst + 1


async def test_a_group_gets_about_twenty_messages_a_minute(clock: ManualClock) -> None:
    # Only the group limit here: the per-chat burst is lifted for this fake.
    async with FakeBotApi(TOKEN, clock=clock, flood_limits=FloodLimits(chat_burst=100)) as fake:
        bot = telegram.Bot(TOKEN, base_url=f"{fake.base_url}/bot")
        async with bot:
            fake.user_text(GROUP, USER, "hi", chat_type="group")
            for n in range(20):
                await bot.send_message(GROUP, f"m{n}")
            with pytest.raises(RetryAfter) as refused:
                await bot.send_message(GROUP, "21st in the same minute")
            assert refused.value.retry_after == 3  # then one more every 3 s
            clock.advance(2.9)
            with pytest.raises(RetryAfter):
                await bot.send_message(GROUP, "too early")
            clock.advance(0.1)
            await bot.send_message(GROUP, "after the wait")
            assert fake.flood is not None
            assert {key for _, key, _ in fake.flood.refused} == {f"group:{GROUP}"}


async def test_about_thirty_messages_a_second_overall(
    fake: FakeBotApi, bot: telegram.Bot, clock: ManualClock
) -> None:
    users = range(1000, 1031)
    for user in users:
        fake.user_text(user, user, "hi")
    for user in list(users)[:30]:
        await bot.send_message(user, "broadcast")
    with pytest.raises(RetryAfter):
        await bot.send_message(1030, "31st in the same second")
    clock.advance(1)
    await bot.send_message(1030, "next second")


async def test_an_injected_429_is_honoured_to_the_second(
    fake: FakeBotApi, bot: telegram.Bot, clock: ManualClock
) -> None:
    fake.user_text(USER, USER, "hi")
    fake.inject("sendVideo", retry_after=3)
    for wait in (0, 2.9):
        clock.advance(wait)
        with pytest.raises(RetryAfter):
            await bot.send_video(USER, MP4_WITH_SOUND, filename="v.mp4")
    clock.advance(0.1)
    assert (await bot.send_video(USER, MP4_WITH_SOUND, filename="v.mp4")).video


# --- webhooks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://bot.example.com/hook", "(?i)an https url must be provided"),
        ("https://bot.example.com:8080/hook", "(?i)only on ports 80, 88, 443 or 8443"),
    ],
)
async def test_set_webhook_refuses_what_telegram_refuses(
    fake: FakeBotApi, bot: telegram.Bot, url: str, error: str
) -> None:
    with pytest.raises(BadRequest, match=error):
        await bot.set_webhook(url)
    assert fake.webhook_url is None
    for good in ("https://bot.example.com/hook", "https://bot.example.com:8443/hook"):
        assert await bot.set_webhook(good)
    fake.local_mode = True  # a local Bot API server delivers to plain HTTP on any port
    assert await bot.set_webhook("http://127.0.0.1:8080/hook")


# --- lost answers -------------------------------------------------------------------------


async def test_a_lost_answer_means_done_but_not_told(fake: FakeBotApi, bot: telegram.Bot) -> None:
    fake.user_text(USER, USER, "hi")
    fake.inject_lost_answer("sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "shown, but the answer is lost")
    assert [m["text"] for m in fake.bot_messages(USER)] == ["shown, but the answer is lost"]
    assert len(fake.lost_answers) == 1
    assert (await bot.send_message(USER, "next")).text == "next"


async def test_a_held_answer_comes_when_released(fake: FakeBotApi, bot: telegram.Bot) -> None:
    import asyncio

    fake.user_text(USER, USER, "hi")
    fake.inject_lost_answer("sendMessage", hold=True)
    pending = asyncio.create_task(bot.send_message(USER, "slow answer"))
    await fake.wait_until(lambda: len(fake.lost_answers) == 1)
    assert not pending.done() and len(fake.bot_messages(USER)) == 1
    fake.release_held_answers()
    assert (await pending).text == "slow answer"


# --- what sendVideo answers ---------------------------------------------------------------


async def test_send_video_answers_animation_or_document_like_telegram(
    fake: FakeBotApi, bot: telegram.Bot
) -> None:
    fake.user_text(USER, USER, "hi")
    silent = await bot.send_video(USER, b"\0\0\0\x18ftypmp42" + bytes(64), filename="v.mp4")
    assert silent.video is None and silent.animation is not None and silent.document
    webm = await bot.send_video(USER, b"\x1a\x45\xdf\xa3" + bytes(64), filename="v.webm")
    assert webm.video is None and webm.document is not None
    sound = await bot.send_video(USER, MP4_WITH_SOUND, filename="v.mp4")
    assert sound.video is not None
    with pytest.raises(BadRequest, match="Type of file mismatch"):
        await bot.send_video(USER, silent.animation.file_id)
    assert (await bot.send_animation(USER, silent.animation.file_id)).animation
    fake.video_kinds_like_telegram = False  # only for a test that needs every upload a video
    assert (await bot.send_video(USER, b"\x1a\x45\xdf\xa3" + bytes(64))).video


# --- chats the bot can no longer write to -------------------------------------------------


async def test_blocked_deactivated_kicked_and_deleted_chats(
    fake: FakeBotApi, bot: telegram.Bot
) -> None:
    for chat_id in (1, 2, 3):
        fake.user_text(chat_id, chat_id, "hi")
    fake.user_text(GROUP, USER, "hi", chat_type="group")
    fake.set_blocked(1)
    fake.set_deactivated(2)
    fake.kick_bot(GROUP)
    fake.delete_chat(3)
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(1, "x")
    with pytest.raises(Forbidden, match="deactivated"):
        await bot.send_message(2, "x")
    with pytest.raises(Forbidden, match="kicked"):
        await bot.send_message(GROUP, "x")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(3, "x")
    with pytest.raises(Forbidden):
        await bot.edit_message_text("x", chat_id=1, message_id=1)


async def test_a_migrated_group_answers_with_its_new_id(
    fake: FakeBotApi, bot: telegram.Bot
) -> None:
    fake.user_text(GROUP, USER, "hi", chat_type="group")
    new_id = fake.migrate_group(GROUP)
    with pytest.raises(ChatMigrated) as moved:
        await bot.send_message(GROUP, "x")
    assert moved.value.new_chat_id == new_id
    assert (await bot.send_message(new_id, "here")).chat.type == "supergroup"
    updates = await bot.get_updates(timeout=0)
    service = [u.message for u in updates if u.message and u.message.migrate_to_chat_id]
    assert service and service[0].migrate_to_chat_id == new_id
    assert any(u.message and u.message.migrate_from_chat_id == GROUP for u in updates)


async def test_user_deletions_and_closed_topics(fake: FakeBotApi, bot: telegram.Bot) -> None:
    forum = -1_001_700_000_001
    photo = fake.user_text(USER, USER, "my message")
    sent = await bot.send_message(USER, "status")
    fake.user_delete_message(USER, photo["message_id"])
    fake.user_delete_message(USER, sent.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(USER, "x", reply_to_message_id=photo["message_id"])
    fake.user_text(forum, USER, "in a topic", chat_type="supergroup", thread_id=5)
    assert await bot.send_message(forum, "ok", message_thread_id=5)
    fake.close_topic(forum, 5)
    with pytest.raises(BadRequest, match="Topic_closed"):
        await bot.send_message(forum, "x", message_thread_id=5)
