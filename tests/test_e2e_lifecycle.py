"""Retry, Again, Change options, the active-jobs limit, /jobs and /resend, and the watchdog.

The real bot runs in-process against the fake Telegram and the fake evolink; each test checks what
Telegram received, what evolink received and what the database holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from bot.jobs import poller
from bot.models import JobStatus
from bot.testing.bot_api import Call, FakeBotApi
from tests.conftest import OTHER_USER, USER, BotFactory
from tests.e2e_helpers import is_options_message, press
from tests.idle_barrier import wait_idle
from tests.lifecycle_support import (
    HeldEvolink,
    answer_of,
    balance_total,
    bot_message_ids,
    choose,
    finish_background,
    generate,
    install_clock,
    job_by_message,
    jobs_of,
    kinds,
    late_callback_is_ignored,
    ledger,
    markup_of,
    open_options,
    running_held_evolink,
    text_of,
    video_message_ids,
    wait_text,
)

S = JobStatus
# A fixed noon (UTC), far from midnight, in the future: the poller's watchdog timer compares the
# injected clock with the real time it last ran at, so the fake clock must not go back in time.
NOON = datetime(2040, 3, 14, 12, 0, tzinfo=UTC).timestamp()


@pytest.fixture(name="evolink")
async def _evolink() -> AsyncIterator[HeldEvolink]:
    async with running_held_evolink() as fake:
        yield fake


def same_request(a: object, b: object) -> None:
    assert isinstance(a, dict) and isinstance(b, dict)
    for key in ("model", "prompt", "duration", "mode", "quality"):
        assert a[key] == b[key], key


# ---- Retry, Again, Change options ------------------------------------------------------------


async def test_try_again_after_a_failure_makes_a_new_job_with_the_same_photo_and_options(
    tg: FakeBotApi, evolink: HeldEvolink, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        photo_id, _ = await generate(tg, caption="a dog runs", options=("10 s", "720p"))
        first = await evolink.wait_task()
        evolink.fail(first.id)  # an upstream failure: not the user's part
        await tg.wait_until(lambda: bool(bot_message_ids(tg, "Try again")))
        [failed_msg] = bot_message_ids(tg, "Try again")
        assert "Failed" in text_of(tg, failed_msg) and "refunded" in text_of(tg, failed_msg)
        assert await ledger(runtime) == [
            ("allowance", "daily", 5), ("reserve", "daily", -3), ("refund", "daily", 3),
        ]  # fmt: skip

        query = await press(tg, USER, USER, failed_msg, "Try again")
        assert "expired" not in str((await answer_of(tg, query)).params.get("text"))
        second = await evolink.wait_task(2)
        creates = evolink.requests_to("create")
        assert len(creates) == 2
        same_request(creates[1].json, creates[0].json)
        assert creates[1].json["duration"] == 10 and creates[1].json["quality"] == "720p"
        # the provider fetched the same photo again (same size), through a new hosted URL
        checks = [(c.ok, c.width, c.height) for c in evolink.image_checks]
        assert checks == [(True, 640, 480), (True, 640, 480)]

        retry, failed = await jobs_of(runtime)
        assert failed.status is S.FAILED
        assert retry.id != failed.id and retry.photo_file_id == failed.photo_file_id
        assert retry.photo_message_id == photo_id and retry.prompt == "a dog runs"
        assert retry.options == failed.options and retry.price == 3
        # the failed job was refunded, the retry is charged: net one charge
        assert await ledger(runtime) == [
            ("allowance", "daily", 5), ("reserve", "daily", -3), ("refund", "daily", 3),
            ("reserve", "daily", -3),
        ]  # fmt: skip
        assert await balance_total(runtime) == 2

        evolink.succeed(second.id)
        video = await tg.wait_call("sendVideo", timeout=20)
        assert video.params["reply_parameters"]["message_id"] == photo_id
        assert retry.status_message_id is not None
        await wait_text(tg, retry.status_message_id, "Done")
        assert await kinds(runtime) == ["allowance", "reserve", "refund", "reserve", "settle"]
        assert await balance_total(runtime) == 2


async def test_again_under_a_video_generates_the_same_again(
    tg: FakeBotApi, evolink: HeldEvolink, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        photo_id, msg_id = await generate(tg, caption="a boat sails", options=("10 s",))
        first = await evolink.wait_task()
        evolink.succeed(first.id)
        await tg.wait_call("sendVideo", timeout=20)
        await wait_text(tg, msg_id, "Done")
        [video_msg] = video_message_ids(tg)
        assert "Again" in markup_of(tg, video_msg)

        query = await press(tg, USER, USER, video_msg, "Again")
        assert "expired" not in str((await answer_of(tg, query)).params.get("text"))
        await evolink.wait_task(2)
        creates = evolink.requests_to("create")
        same_request(creates[1].json, creates[0].json)
        assert creates[1].json["duration"] == 10
        again, delivered = await jobs_of(runtime)
        assert again.status_message_id is not None
        await wait_text(tg, again.status_message_id, "Generating")
        assert delivered.status is S.DELIVERED
        assert (
            again.photo_file_id == delivered.photo_file_id and again.options == delivered.options
        )
        assert again.photo_message_id == photo_id
        assert await ledger(runtime) == [
            ("allowance", "daily", 5), ("reserve", "daily", -2), ("settle", "daily", 0),
            ("reserve", "daily", -2),
        ]  # fmt: skip
        assert await balance_total(runtime) == 1


async def test_change_options_under_a_video_shows_new_options_and_charges_nothing(
    tg: FakeBotApi, evolink: HeldEvolink, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        photo_id, msg_id = await generate(tg, caption="a boat sails", options=("10 s",))
        first = await evolink.wait_task()
        evolink.succeed(first.id)
        await tg.wait_call("sendVideo", timeout=20)
        await wait_text(tg, msg_id, "Done")
        [video_msg] = video_message_ids(tg)
        [delivered] = await jobs_of(runtime)

        options_before = [c for c in tg.calls_of("sendMessage") if is_options_message(c)]
        query = await press(tg, USER, USER, video_msg, "Change options")
        await answer_of(tg, query)
        await tg.wait_until(
            lambda: (
                len([c for c in tg.calls_of("sendMessage") if is_options_message(c)])
                == len(options_before) + 1
            )
        )
        newest = bot_message_ids(tg, "Video options")[-1]
        # the new options message starts from the job's choices, ready to change
        await tg.wait_until(lambda: "✅ 10 s" in markup_of(tg, newest))
        assert "Price: 2 credits" in text_of(tg, newest)
        draft = await job_by_message(runtime, newest)
        assert draft.status is S.DRAFT and draft.options == delivered.options
        assert draft.photo_file_id == delivered.photo_file_id and draft.prompt == "a boat sails"
        reply_to = (tg.message(USER, newest) or {}).get("reply_to_message") or {}
        assert reply_to.get("message_id") == photo_id
        # nothing was charged or sent to the provider for it
        await wait_idle(tg, runtime, evolink)
        assert len(evolink.requests_to("create")) == 1
        assert await kinds(runtime) == ["allowance", "reserve", "settle"]

        # and it works like any options message
        await choose(tg, newest, "720p")
        await press(tg, USER, USER, newest, "Generate")
        await evolink.wait_task(2)
        assert evolink.requests_to("create")[1].json["quality"] == "720p"
        assert await kinds(runtime) == ["allowance", "reserve", "settle", "reserve"]
        assert await balance_total(runtime) == 5 - 2 - 3


# ---- MAX_ACTIVE_JOBS_PER_USER ---------------------------------------------------------------


async def test_a_third_generate_while_two_run_is_refused_clearly(
    tg: FakeBotApi, evolink: HeldEvolink, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:  # MAX_ACTIVE_JOBS_PER_USER left at its default, 2
        _, first_msg = await generate(tg, caption="one")
        await generate(tg, caption="two")
        first = await evolink.wait_task()
        await evolink.wait_task(2)

        _, third_msg = await open_options(tg, caption="three")
        query = await press(tg, USER, USER, third_msg, "Generate")
        answer = await answer_of(tg, query)
        assert "already have 2 videos being made" in answer.params["text"]
        assert answer.params.get("show_alert") is True
        assert len(evolink.requests_to("create")) == 2
        assert (await job_by_message(runtime, third_msg)).status is S.DRAFT
        assert await kinds(runtime) == ["allowance", "reserve", "reserve"]
        assert "Generate" in markup_of(tg, third_msg)  # still an options message

        # The limit is per user: someone else still can.
        _, other_msg = await generate(tg, user=OTHER_USER, caption="someone else")
        await evolink.wait_task(3)
        assert (await job_by_message(runtime, other_msg, OTHER_USER)).status.is_terminal is False
        assert len(await jobs_of(runtime, OTHER_USER)) == 1

        # One finishes: the same button now works.
        evolink.succeed(first.id)
        await wait_text(tg, first_msg, "Done")
        query = await press(tg, USER, USER, third_msg, "Generate")
        assert "Started" in (await answer_of(tg, query)).params["text"]
        await evolink.wait_task(4)
        assert len(evolink.requests_to("create")) == 4
        assert await kinds(runtime) == ["allowance", "reserve", "reserve", "settle", "reserve"]


# ---- /jobs and /resend ----------------------------------------------------------------------


async def test_jobs_lists_recent_jobs_and_resend_reuses_the_file_id(
    tg: FakeBotApi, evolink: HeldEvolink, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        photo_id, done_msg = await generate(tg, caption="waves")
        task = await evolink.wait_task()
        evolink.succeed(task.id)
        first_video = await tg.wait_call("sendVideo", timeout=20)
        await wait_text(tg, done_msg, "Done")
        _, failed_msg = await generate(tg, caption="fire")
        evolink.fail((await evolink.wait_task(2)).id)
        await wait_text(tg, failed_msg, "Failed")
        _, draft_msg = await open_options(tg, caption="only a draft")
        delivered = await job_by_message(runtime, done_msg)
        failed = await job_by_message(runtime, failed_msg)
        draft = await job_by_message(runtime, draft_msg)

        tg.user_command(USER, USER, "jobs")
        listing = await tg.wait_call(
            "sendMessage", lambda c: "Your recent videos" in c.params.get("text", "")
        )
        lines = listing.params["text"].splitlines()[1:]
        assert [line.split(" · ")[:2] for line in lines] == [
            ["1. fire", "failed"],
            ["2. waves", "delivered"],
        ]  # newest first, numbered per user, drafts not listed
        assert all(line.endswith("UTC") for line in lines)
        assert "only a draft" not in listing.params["text"] and draft.id
        # one "Send again" button, for the delivered video only
        assert [b["text"] for row in listing.params["reply_markup"]["inline_keyboard"]
                for b in row] == ["▶️ Send again · 2"]  # fmt: skip

        [video_msg] = video_message_ids(tg)
        file_id = tg.message(USER, video_msg)["video"]["file_id"]  # type: ignore[index]
        assert delivered.video_file_id == file_id

        resend = tg.user_command(USER, USER, "resend", str(delivered.id))
        resent = await tg.wait_call(
            "sendVideo",
            lambda c: (
                c.params["reply_parameters"]["message_id"] == resend["message_id"]
                and c.status != 429  # flood control: PTB retries after retry_after
            ),
        )
        assert resent.status == 200
        assert resent.params["video"] == file_id and resent.files == {}  # no upload
        assert resent.params["caption"] == first_video.params["caption"]
        assert "reply_markup" not in resent.params

        # someone else's job, a job without a video, an unknown id: refused, nothing sent
        tg.user_command(OTHER_USER, OTHER_USER, "resend", str(delivered.id))
        tg.user_command(USER, USER, "resend", str(failed.id))
        tg.user_command(USER, USER, "resend", "999999")
        for chat, job_id in ((OTHER_USER, delivered.id), (USER, failed.id), (USER, 999999)):
            await tg.wait_call("sendMessage", refusal(chat, job_id))
        await wait_idle(tg, runtime, evolink)
        assert len([c for c in tg.calls_of("sendVideo") if c.status == 200]) == 2
        assert first_video.params["reply_parameters"]["message_id"] == photo_id
        # resending costs nothing
        assert await kinds(runtime) == ["allowance", "reserve", "settle", "reserve", "refund"]


def refusal(chat: int, job_id: int) -> Callable[[Call], bool]:
    def match(call: Call) -> bool:
        text = str(call.params.get("text", ""))
        return call.params["chat_id"] == chat and f"find a delivered video #{job_id}" in text

    return match


# ---- The watchdog ---------------------------------------------------------------------------


async def test_watchdog_expires_a_submitted_job_at_its_deadline_and_refunds(
    tg: FakeBotApi, evolink: HeldEvolink, start_bot: BotFactory
) -> None:
    async with start_bot(JOB_DEADLINE_FLOOR_S="1") as runtime:
        assert runtime.ctx is not None and runtime.poller is not None
        clock = install_clock(runtime, NOON)
        photo_id, msg_id = await generate(tg)
        task = await evolink.wait_task()
        await wait_text(tg, msg_id, "Generating")
        job = await job_by_message(runtime, msg_id)
        assert job.status is S.SUBMITTED and job.deadline_at is not None
        assert job.deadline_at > clock.now

        clock.now = job.deadline_at - 0.5  # just before: nothing happens
        assert await runtime.poller.watchdog_once() == 0
        assert (await job_by_message(runtime, msg_id)).status is S.SUBMITTED

        # Past it (and past the watchdog's own period): the running bot's loop expires the job.
        clock.now = job.deadline_at + poller.WATCHDOG_EVERY_S + 1
        told = await tg.wait_call(
            "sendMessage", lambda c: "Took too long" in c.params.get("text", ""), timeout=10
        )
        assert told.params["reply_parameters"]["message_id"] == photo_id
        assert "1 credit refunded" in told.params["text"]
        assert "Try again" in str(told.params.get("reply_markup"))
        await wait_text(tg, msg_id, "Took too long")
        expired = await job_by_message(runtime, msg_id)
        assert expired.status is S.EXPIRED and expired.error_kind == "timeout"
        assert await kinds(runtime) == ["allowance", "reserve", "refund"]
        assert await balance_total(runtime) == 5

        await late_callback_is_ignored(runtime, tg, evolink, task.id, job.id)
        assert (await job_by_message(runtime, msg_id)).status is S.EXPIRED


async def test_watchdog_expires_a_job_stuck_in_submission_and_ignores_the_late_task(
    tg: FakeBotApi, evolink: HeldEvolink, start_bot: BotFactory
) -> None:
    create = evolink.hold("create")
    async with start_bot(JOB_DEADLINE_FLOOR_S="1") as runtime:
        assert runtime.poller is not None
        clock = install_clock(runtime, NOON)
        _, msg_id = await generate(tg)
        await create.wait_parked()
        job = await job_by_message(runtime, msg_id)
        assert job.status is S.SUBMITTING and job.deadline_at == pytest.approx(NOON + 1)

        clock.advance(1 + poller.WATCHDOG_EVERY_S + 1)
        await wait_text(tg, msg_id, "Took too long")
        await tg.wait_call("sendMessage", lambda c: "Took too long" in c.params.get("text", ""))
        assert (await job_by_message(runtime, msg_id)).status is S.EXPIRED
        assert await kinds(runtime) == ["allowance", "reserve", "refund"]

        create.release()
        task = await evolink.wait_task()
        await finish_background(runtime, f"submit-{job.id}")
        after = await job_by_message(runtime, msg_id)
        assert after.status is S.EXPIRED and after.task_id is None
        await late_callback_is_ignored(runtime, tg, evolink, task.id, job.id)
        assert await balance_total(runtime) == 5
