"""Delivery against what Telegram really does to a chat and to a sent video.

Each test drives the real bot through the fake Bot API, whose strict defaults model the fate
named in the test; "nothing else" assertions wait for the idle barrier first.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.runtime import BotRuntime
from bot.telegram.kept_videos import kept_path
from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from bot.testing.sample_media import make_sample_photo
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import is_options_message, press
from tests.idle_barrier import wait_idle
from tests.telegram_helpers import calls_to, generate, ledger_kinds, only_job

BASIC_GROUP = -4_000_000_077
FORUM = -1_001_600_000_001
TOPIC = 12


async def _resend(tg: FakeBotApi, runtime: BotRuntime, job_id: int) -> None:
    """/resend <id> in the private chat, then wait until the bot is done with it."""
    tg.user_command(USER, USER, "resend", str(job_id))
    await wait_idle(tg, runtime)


async def test_a_lost_send_video_answer_is_delivered_once_and_never_refunded(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        tg.inject_lost_answer("sendVideo")  # Telegram shows the video; the answer never comes
        await generate(tg, USER)
        task = await evolink.wait_task()
        evolink.succeed(task.id)
        await tg.wait_until(lambda: len(tg.lost_answers) == 1)
        await wait_idle(tg, runtime, evolink)
        job = await only_job(runtime, USER)
        assert job.status.value == "delivered"
        assert await ledger_kinds(runtime, USER) == ["allowance", "reserve", "settle"]
        assert len(tg.calls_of("sendVideo")) == 1  # not sent a second time
        assert len([m for m in tg.bot_messages(USER) if "video" in m]) == 1
        # No file id came back, so /resend uploads the kept copy once and remembers its id.
        assert runtime.ctx is not None
        assert kept_path(runtime.ctx.settings.work_dir, job.id).is_file()
        await _resend(tg, runtime, job.id)
        assert [c.status for c in tg.calls_of("sendVideo")] == [200, 200]
        assert (await only_job(runtime, USER)).video_file_id
        assert not kept_path(runtime.ctx.settings.work_dir, job.id).exists()
        assert await ledger_kinds(runtime, USER) == ["allowance", "reserve", "settle"]


@pytest.mark.parametrize("kind", ["animation", "document"])
async def test_the_file_id_is_kept_whatever_send_video_returns(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory, kind: str
) -> None:
    # The bot always uploads an MP4 with sound (bot/media/result.py), but what Telegram makes
    # of it is Telegram's decision: force the kind it answers.
    tg.answer_send_video_as(kind)
    async with start_bot() as runtime:
        await generate(tg, USER)
        task = await evolink.wait_task()
        evolink.succeed(task.id)
        await tg.wait_call("sendVideo", lambda c: c.status == 200, timeout=20)
        await wait_idle(tg, runtime, evolink)
        job = await only_job(runtime, USER)
        assert job.status.value == "delivered"
        message = tg.message(USER, job.video_message_id or 0) or {}
        assert "video" not in message and job.video_file_id == message[kind]["file_id"]
        # /resend goes through the method of the kind Telegram made of it.
        await _resend(tg, runtime, job.id)
        resent = tg.calls_of("sendAnimation" if kind == "animation" else "sendDocument")
        assert [c.status for c in resent] == [200]
        assert resent[0].params[kind] == job.video_file_id


@pytest.mark.parametrize(
    "fate",
    [FakeBotApi.set_blocked, FakeBotApi.set_deactivated, FakeBotApi.delete_chat],
    ids=["blocked", "deactivated", "deleted"],
)
async def test_a_chat_that_refuses_the_bot_ends_the_job_without_a_retry_storm(
    tg: FakeBotApi,
    evolink: EvolinkFake,
    start_bot: BotFactory,
    fate: Callable[[FakeBotApi, int], None],
) -> None:
    async with start_bot() as runtime:
        await generate(tg, USER)
        task = await evolink.wait_task()
        await wait_idle(tg, runtime, evolink)
        fate(tg, USER)
        evolink.succeed(task.id)
        refused = await tg.wait_call("sendVideo", timeout=20)
        assert refused.status in (400, 403)
        await wait_idle(tg, runtime, evolink)
        # Nothing more is tried there: no failure notice, no final edit (a progress edit that
        # was already on its way when the video was refused may still arrive).
        later = calls_to(tg, USER, after=refused)
        assert [
            c for c in later if c.method != "editMessageText" or "Failed" in str(c.params)
        ] == []
        job = await only_job(runtime, USER)
        assert job.status.value == "failed"
        assert await ledger_kinds(runtime, USER) == ["allowance", "reserve", "refund"]
        assert runtime.ctx is not None
        assert kept_path(runtime.ctx.settings.work_dir, job.id).is_file()
        if fate is FakeBotApi.set_blocked:  # the user unblocks the bot: /resend delivers it
            tg.set_blocked(USER, False)
            await _resend(tg, runtime, job.id)
            assert tg.calls_of("sendVideo")[-1].status == 200
            assert await ledger_kinds(runtime, USER) == ["allowance", "reserve", "refund"]


async def test_a_group_that_became_a_supergroup_gets_its_video_there(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        photo = tg.user_photo(
            BASIC_GROUP, USER, make_sample_photo(), "/video waves", chat_type="group"
        )
        options = await tg.wait_call(
            "sendMessage", lambda c: c.params["chat_id"] == BASIC_GROUP and is_options_message(c)
        )
        assert options.params["reply_parameters"]["message_id"] == photo["message_id"]
        msg_id = next(m["message_id"] for m in tg.bot_messages(BASIC_GROUP) if "reply_markup" in m)
        await press(tg, BASIC_GROUP, USER, msg_id, "Generate")
        task = await evolink.wait_task()
        await wait_idle(tg, runtime, evolink)
        before = tg.calls[-1]
        supergroup = tg.migrate_group(BASIC_GROUP)
        evolink.succeed(task.id)
        await tg.wait_call(
            "sendVideo",
            lambda c: c.status == 200 and c.params["chat_id"] == supergroup,
            timeout=20,
        )
        await wait_idle(tg, runtime, evolink)
        job = await only_job(runtime, USER)
        assert job.status.value == "delivered" and job.chat_id == supergroup
        assert await ledger_kinds(runtime, USER) == ["allowance", "reserve", "settle"]
        # The first refused call (an edit or the video) taught the bot the new id: no other.
        late = calls_to(tg, BASIC_GROUP, after=before)
        assert [c.status for c in late] == [400], [c.method for c in late]
        assert tg.calls_of("sendVideo")[-1].params["chat_id"] == supergroup
        assert [m for m in tg.bot_messages(supergroup) if "video" in m]


async def test_a_closed_topic_ends_the_job_without_a_retry_storm(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        tg.user_photo(
            FORUM, USER, make_sample_photo(), "/video waves", chat_type="supergroup",
            thread_id=TOPIC,
        )  # fmt: skip
        await tg.wait_call(
            "sendMessage", lambda c: c.params["chat_id"] == FORUM and is_options_message(c)
        )
        msg_id = next(m["message_id"] for m in tg.bot_messages(FORUM) if "reply_markup" in m)
        await press(tg, FORUM, USER, msg_id, "Generate")
        task = await evolink.wait_task()
        await wait_idle(tg, runtime, evolink)
        tg.close_topic(FORUM, TOPIC)
        evolink.succeed(task.id)
        refused = await tg.wait_call("sendVideo", timeout=20)
        assert refused.status == 400
        await wait_idle(tg, runtime, evolink)
        later = calls_to(tg, FORUM, after=refused)
        assert [
            c for c in later if c.method != "editMessageText" or "Failed" in str(c.params)
        ] == []
        job = await only_job(runtime, USER)
        assert job.status.value == "failed"
        assert await ledger_kinds(runtime, USER) == ["allowance", "reserve", "refund"]


async def test_deleted_photo_and_status_message_do_not_stop_the_delivery(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        photo_id, status_id = await generate(tg, USER)
        task = await evolink.wait_task()
        await wait_idle(tg, runtime, evolink)
        tg.user_delete_message(USER, photo_id)
        tg.user_delete_message(USER, status_id)
        evolink.succeed(task.id)
        video = await tg.wait_call("sendVideo", timeout=20)
        assert video.status == 200
        await wait_idle(tg, runtime, evolink)
        assert (await only_job(runtime, USER)).status.value == "delivered"
        assert await ledger_kinds(runtime, USER) == ["allowance", "reserve", "settle"]


async def test_a_delayed_send_video_answer_is_waited_for_not_refunded(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        tg.inject_lost_answer("sendVideo", hold=True)  # done on Telegram's side, answer late
        await generate(tg, USER)
        task = await evolink.wait_task()
        evolink.succeed(task.id)
        await tg.wait_until(lambda: len(tg.lost_answers) == 1)
        assert (await only_job(runtime, USER)).status.value == "sending"
        assert await ledger_kinds(runtime, USER) == ["allowance", "reserve"]
        tg.release_held_answers()
        await wait_idle(tg, runtime, evolink)
        job = await only_job(runtime, USER)
        assert job.status.value == "delivered" and job.video_file_id
        assert len(tg.calls_of("sendVideo")) == 1
        assert await ledger_kinds(runtime, USER) == ["allowance", "reserve", "settle"]
