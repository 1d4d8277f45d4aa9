"""Issue 11, finding 3: apikley's documented limits are admission control, not errors.

The fake enforces the limits (as its document says) and would answer 429 past them; the bot
never gets there: a job over the limit waits in our queue, its status says so and how many are
ahead, its deadline does not run while it waits, and it is submitted when a slot frees, also
after a restart.
"""

from __future__ import annotations

from bot.models import JobStatus
from bot.testing.bot_api import FakeBotApi
from bot.testing.providers import ApikleyFake
from tests.conftest import OTHER_USER, USER, BotFactory
from tests.provider_e2e_helpers import (
    TIME_SCALE,
    assert_charged_once,
    only_job,
    provider_env,
    start_job,
    wait_idle,
    wait_status_text,
    wait_video,
)

THIRD_USER = 3003


async def test_over_the_concurrency_limit_jobs_queue_and_go_in_order(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with ApikleyFake(time_scale=TIME_SCALE, max_concurrent=1) as apikley:
        env = provider_env(apikley, PROVIDER_LIMITS="apikley=1/250")
        async with start_bot(**env) as runtime:
            first = await start_job(tg, USER)
            task1 = await apikley.wait_task()
            second = await start_job(tg, OTHER_USER)
            await wait_status_text(tg, second, "In the queue · 0 ahead")
            third = await start_job(tg, THIRD_USER)
            await wait_status_text(tg, third, "In the queue · 1 ahead")
            queued = await only_job(runtime, OTHER_USER)
            assert queued.status is JobStatus.RESERVED and queued.queued_at is not None
            assert queued.deadline_at is None  # our own queue never runs its time out
            assert len(apikley.requests_to("create")) == 1  # nothing sent over the limit

            apikley.succeed(task1.id)
            await wait_video(tg, first)
            task2 = await apikley.wait_task(2)
            await wait_status_text(tg, third, "In the queue · 0 ahead")
            job2 = await only_job(runtime, OTHER_USER)
            assert job2.status is JobStatus.SUBMITTED and job2.queued_at is None
            assert job2.deadline_at is not None and job2.deadline_at > runtime.ctx.clock()  # type: ignore[union-attr]
            apikley.succeed(task2.id)
            await wait_video(tg, second)
            task3 = await apikley.wait_task(3)
            apikley.succeed(task3.id)
            await wait_video(tg, third)
            creates = apikley.requests_to("create")
            assert len(creates) == 3  # one create per job: no 429 was ever met
            for user in (USER, OTHER_USER, THIRD_USER):
                await assert_charged_once(runtime, user)


async def test_the_hourly_creation_limit_queues_and_survives_a_restart(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with ApikleyFake(time_scale=TIME_SCALE, max_per_hour=1) as apikley:
        env = provider_env(apikley, PROVIDER_LIMITS="apikley=25/1")
        async with start_bot(**env) as runtime:
            first = await start_job(tg, USER)
            task1 = await apikley.wait_task()
            apikley.succeed(task1.id)
            await wait_video(tg, first)
            second = await start_job(tg, OTHER_USER)
            await wait_status_text(tg, second, "In the queue · 0 ahead")
        # Restarted within the hour: the creation made before the restart still counts.
        async with start_bot(**env) as runtime:
            await wait_idle(runtime)  # recovery resubmitted it: admission queued it again
            job = await only_job(runtime, OTHER_USER)
            assert job.status is JobStatus.RESERVED and job.queued_at is not None
            assert len(apikley.requests_to("create")) == 1
        # The hour passes: simulated by a raised limit on both sides instead of a real hour.
        apikley.max_per_hour = 2
        async with start_bot(**{**env, "PROVIDER_LIMITS": "apikley=25/2"}) as runtime:
            task2 = await apikley.wait_task(2)
            apikley.succeed(task2.id)
            await wait_video(tg, second)
            await assert_charged_once(runtime, OTHER_USER)
            assert len(apikley.requests_to("create")) == 2
