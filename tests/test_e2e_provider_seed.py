"""Issue 11: HappyHorse documents a `seed`. Each HappyHorse job runs with one (kept on the job and
shown in /jobs); "Again, same seed" under the video repeats the job with the same seed, while
"Again" draws a new one. Models without a seed offer no such button."""

from __future__ import annotations

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers import EvolinkFake
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import press
from tests.lifecycle_support import jobs_of, markup_of, video_message_ids
from tests.provider_e2e_helpers import (
    TIME_SCALE,
    provider_env,
    start_job,
    wait_idle,
    wait_status_text,
    wait_video,
)


async def test_again_same_seed_repeats_the_seed_and_jobs_shows_it(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with (
        EvolinkFake(time_scale=TIME_SCALE, loopback_callbacks=True) as evolink,
        start_bot(**provider_env(evolink, DAILY_QUOTA="20")) as runtime,
    ):
        started = await start_job(tg, USER, "the horse gallops", picks=["HappyHorse 1.0"])
        first = await evolink.wait_task()
        seed = first.body["seed"]
        evolink.succeed(first.id)
        await wait_video(tg, started)
        await wait_status_text(tg, started, "Done")
        [video_msg] = video_message_ids(tg)
        assert "Again, same seed" in markup_of(tg, video_msg)

        await press(tg, USER, USER, video_msg, "same seed")
        second = await evolink.wait_task(2)
        assert second.body["seed"] == seed
        assert second.body["model"] == "happyhorse-1.0-image-to-video"

        await press(tg, USER, USER, video_msg, "🔁 Again")
        third = await evolink.wait_task(3)
        assert third.body["seed"] != seed  # "Again" draws a fresh seed

        await wait_idle(runtime)
        jobs = await jobs_of(runtime)
        assert [j.seed for j in jobs][-2:] == [seed, seed]
        tg.user_text(USER, USER, "/jobs")
        listing = await tg.wait_call(
            "sendMessage", lambda c: "Your recent videos" in str(c.params.get("text"))
        )
        assert f"seed {seed}" in listing.params["text"]


async def test_a_model_without_a_seed_offers_no_same_seed_button(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with (
        EvolinkFake(time_scale=TIME_SCALE, loopback_callbacks=True) as evolink,
        start_bot(**provider_env(evolink)) as runtime,
    ):
        started = await start_job(tg, USER)
        task = await evolink.wait_task()
        assert "seed" not in task.body
        evolink.succeed(task.id)
        await wait_video(tg, started)
        await wait_idle(runtime)
        [video_msg] = video_message_ids(tg)
        assert "same seed" not in markup_of(tg, video_msg)
        assert (await jobs_of(runtime))[0].seed is None
