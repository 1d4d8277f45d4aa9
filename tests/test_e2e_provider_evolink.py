"""evolink end to end, both models: the exact create body, completion by callback, variants.

grok-imagine-image-to-video (mode, 6/10 s, 480p/720p) and happyhorse-1.0-image-to-video (5/10/15 s,
720p/1080p, prompt optional, photo >= 300 px) through the real bot against `EvolinkFake`.
"""

from __future__ import annotations

import pytest

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers import EvolinkFake
from tests.conftest import USER, BotFactory
from tests.provider_e2e_helpers import (
    ADMIN,
    TIME_SCALE,
    assert_charged_once,
    assert_refunded,
    callback_url,
    choose,
    generate_on,
    jobs_of,
    labels,
    ledger,
    media_prefix,
    only_job,
    open_options,
    provider_env,
    raw_words_seen,
    record_waits,
    start_job,
    wait_failure_message,
    wait_status_text,
    wait_video,
)


@pytest.fixture(name="waits", autouse=True)
def _waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    return record_waits(monkeypatch)


async def test_grok_sends_the_documented_body_and_completes_by_callback(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with (
        EvolinkFake(time_scale=TIME_SCALE, loopback_callbacks=True) as evolink,
        start_bot(**provider_env(evolink)) as runtime,
    ):
        photo_id, options_id = await open_options(tg, USER, "waves roll in")
        markup = (tg.message(USER, options_id) or {}).get("reply_markup")
        # both models are offered; grok's rows are the documented enums
        assert labels(markup)[:2] == ["Grok Imagine", "HappyHorse 1.0"]
        assert {"Fun", "Normal", "Spicy", "6 s", "10 s", "480p", "720p"} <= set(labels(markup))
        started = await generate_on(tg, USER, photo_id, options_id, ["Fun", "720p"])
        create = await evolink.wait_request("/v1/videos/generations")
        job = await only_job(runtime, USER)
        assert create.json == {
            "model": "grok-imagine-image-to-video",
            "image_urls": [create.json["image_urls"][0]],
            "duration": 6,
            "quality": "720p",
            "mode": "fun",
            "prompt": "waves roll in",
            "callback_url": callback_url(runtime, "evolink", job),
        }
        assert create.json["image_urls"][0].startswith(media_prefix(runtime))
        task = await evolink.wait_task()
        check = task.image_checks[0]
        assert check.ok and check.content_type == "image/jpeg" and check.width == 640
        await wait_status_text(tg, started, "Generating")
        assert evolink.requests_to("query") == []  # nothing polled: the callback is awaited
        evolink.succeed(task.id)
        await wait_video(tg, started)
        attempts = await evolink.wait_callback_attempts(1)
        assert [a.outcome for a in attempts] == [200]
        assert len(evolink.requests_to("query")) >= 1  # the callback was re-checked by a query
        await wait_status_text(tg, started, "Done")
        await assert_charged_once(runtime, USER)
        assert (await ledger(runtime, USER))[1] == ("reserve", -2)  # grok 1 + 720p 1
        assert not evolink.bot_token_leaks()


async def test_happyhorse_sends_its_own_body_and_completes_by_callback(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with (
        EvolinkFake(time_scale=TIME_SCALE, loopback_callbacks=True) as evolink,
        start_bot(**provider_env(evolink, DAILY_QUOTA="10")) as runtime,
    ):
        photo_id, options_id = await open_options(tg, USER, "the horse gallops")
        await choose(tg, USER, USER, options_id, "HappyHorse 1.0")
        markup = (tg.message(USER, options_id) or {}).get("reply_markup")
        offered = set(labels(markup))
        assert {"3 s", "5 s", "10 s", "15 s", "720p", "1080p"} <= offered
        assert not {"Fun", "Normal", "Spicy", "480p", "6 s"} & offered  # grok's rows are gone
        started = await generate_on(tg, USER, photo_id, options_id, ["10 s", "1080p"])
        task = await evolink.wait_task()
        job = await only_job(runtime, USER)
        assert task.body == {
            "model": "happyhorse-1.0-image-to-video",
            "image_urls": [task.body["image_urls"][0]],
            "duration": 10,
            "quality": "1080p",
            "prompt": "the horse gallops",
            "callback_url": callback_url(runtime, "evolink", job),
            "seed": job.seed,  # documented for HappyHorse: kept on the job for "same seed"
        }
        assert job.seed is not None and 1 <= job.seed <= 2147483647
        assert task.body["image_urls"][0].startswith(media_prefix(runtime))
        assert task.image_checks[0].ok and task.image_checks[0].width == 640
        await wait_status_text(tg, started, "Generating")
        evolink.succeed(task.id)
        await wait_video(tg, started)
        await wait_status_text(tg, started, "Done")
        await assert_charged_once(runtime, USER)
        assert (await ledger(runtime, USER))[1] == ("reserve", -6)  # 2 + 10 s 2 + 1080p 2


async def test_happyhorse_without_a_prompt_sends_none(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with (
        EvolinkFake(time_scale=TIME_SCALE, loopback_callbacks=True) as evolink,
        start_bot(**provider_env(evolink)) as runtime,
    ):
        photo_id, options_id = await open_options(tg, USER, None)
        # no caption: the bot asks for one; happyhorse may go without
        await tg.wait_call("sendMessage", lambda c: "What should happen" in c.params["text"])
        started = await generate_on(tg, USER, photo_id, options_id, ["HappyHorse 1.0"])
        task = await evolink.wait_task()
        assert task.body["model"] == "happyhorse-1.0-image-to-video"
        assert "prompt" not in task.body
        assert (task.body["duration"], task.body["quality"]) == (5, "720p")  # the defaults
        evolink.succeed(task.id)
        await wait_video(tg, started)
        await wait_status_text(tg, started, "Done")
        await assert_charged_once(runtime, USER)


async def test_a_callback_before_the_create_answer_still_delivers_once(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with (
        EvolinkFake(time_scale=TIME_SCALE, loopback_callbacks=True) as evolink,
        start_bot(**provider_env(evolink)) as runtime,
    ):
        # the task is done and its callback sent before the create response leaves the fake
        evolink.script(["completed"], on_create=True)
        started = await start_job(tg, USER)
        await wait_video(tg, started)
        await wait_status_text(tg, started, "Done")
        attempts = await evolink.wait_callback_attempts(1)
        assert attempts[0].outcome == 200
        assert len(tg.calls_of("sendVideo")) == 1
        await assert_charged_once(runtime, USER)


async def test_a_task_cancelled_at_the_provider_fails_cleanly_with_a_refund(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with (
        EvolinkFake(time_scale=TIME_SCALE, loopback_callbacks=True) as evolink,
        start_bot(**provider_env(evolink)) as runtime,
    ):
        started = await start_job(tg, USER)
        task = await evolink.wait_task()
        evolink.cancel(task.id)
        failed = await wait_failure_message(tg, started, "Failed")
        assert "refunded" in failed.params["text"]
        assert "Try again" in str(failed.params["reply_markup"])
        assert raw_words_seen(tg, USER) == []
        await assert_refunded(runtime, USER)
        assert (await only_job(runtime, USER)).status.value == "failed"


async def test_string_error_codes_are_read_like_numbers(
    tg: FakeBotApi, start_bot: BotFactory, waits: list[float]
) -> None:
    """evolink's `error.code` may be a string slug: 429 is still retried, 402 still alerts."""
    async with EvolinkFake(
        time_scale=TIME_SCALE, error_code_as_string=True, loopback_callbacks=True
    ) as evolink:
        env = provider_env(evolink, ADMIN_USER_IDS=str(ADMIN))
        async with start_bot(**env) as runtime:
            tg.user_text(ADMIN, ADMIN, "/start")
            await tg.wait_call("sendMessage", lambda c: c.params["chat_id"] == ADMIN)
            evolink.inject("429", "create", retry_after=2)
            first = await start_job(tg, USER)
            task = await evolink.wait_task()
            evolink.succeed(task.id)
            await wait_video(tg, first)
            assert waits == [2.0]
            evolink.inject("402", "create")
            second = await start_job(tg, USER)
            await wait_failure_message(tg, second, "unavailable")
            alert = await tg.wait_call(
                "sendMessage",
                lambda c: c.params["chat_id"] == ADMIN and "Operator alert" in c.params["text"],
            )
            assert "insufficient_credits" in alert.params["text"]
            assert raw_words_seen(tg, USER) == []
            jobs = [j.status.value for j in await jobs_of(runtime, USER)]
            assert jobs == ["failed", "delivered"]


async def test_happyhorse_takes_a_photo_at_its_size_limits(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    """300 px on the short side and a 2.5:1 aspect: the hosted photo still passes the check."""
    async with (
        EvolinkFake(time_scale=TIME_SCALE, loopback_callbacks=True) as evolink,
        start_bot(**provider_env(evolink)) as runtime,
    ):
        photo_id, options_id = await open_options(tg, USER, "pan across", size=(750, 300))
        started = await generate_on(tg, USER, photo_id, options_id, ["HappyHorse 1.0"])
        task = await evolink.wait_task()
        check = task.image_checks[0]
        assert check.ok and (check.width, check.height) == (750, 300)
        evolink.succeed(task.id)
        await wait_video(tg, started)
        await wait_status_text(tg, started, "Done")
        await assert_charged_once(runtime, USER)
