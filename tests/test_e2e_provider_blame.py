"""Issue 11, findings 4 and 5: a refused create is blamed on the right party, end to end.

A 404 on create (evolink: model not found; apikley: endpoint not found) and a 400/422 that names
neither the photo nor the prompt are the operator's configuration: the admins get one alert and
the job fails over to the next provider, the user is charged once and never blamed. A provider
that could not fetch our photo is its own side: fail over. Only a refusal that names the user's
photo or prompt tells the user what to change.
"""

from __future__ import annotations

import pytest

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers import ApikleyFake, EvolinkFake, FoxapiFake
from tests.conftest import OTHER_USER, USER, BotFactory
from tests.provider_e2e_helpers import (
    ADMIN,
    TIME_SCALE,
    assert_charged_once,
    assert_refunded,
    chat_texts,
    only_job,
    provider_env,
    raw_words_seen,
    record_waits,
    start_job,
    wait_failure_message,
    wait_idle,
    wait_status_text,
    wait_video,
)


def operator_alerts(tg: FakeBotApi) -> list[str]:
    return [
        str(c.params["text"])
        for c in tg.calls_of("sendMessage")
        if c.params["chat_id"] == ADMIN and "Operator alert" in c.params["text"]
    ]


BROKEN_CONFIG = [
    pytest.param("evolink", "404", id="evolink-404-model-not-found"),
    pytest.param("evolink", "wrong-path", id="evolink-404-endpoint"),
    pytest.param("apikley", "wrong-path", id="apikley-404-endpoint"),
    pytest.param("evolink", "400", id="evolink-400-not-the-photo"),
    pytest.param("apikley", "422", id="apikley-422-not-the-photo"),
    pytest.param("evolink", "409", id="evolink-unknown-4xx"),
]


@pytest.mark.parametrize(("first", "fault"), BROKEN_CONFIG)
async def test_operator_config_refusal_alerts_once_and_fails_over(
    tg: FakeBotApi, start_bot: BotFactory, first: str, fault: str
) -> None:
    first_fake = (
        EvolinkFake(time_scale=TIME_SCALE, loopback_callbacks=True)
        if first == "evolink"
        else ApikleyFake(time_scale=TIME_SCALE)
    )
    async with first_fake, FoxapiFake(time_scale=TIME_SCALE) as foxapi:
        env = provider_env(first_fake, foxapi, ADMIN_USER_IDS=str(ADMIN))
        if fault == "wrong-path":  # a base URL with a wrong path: every endpoint is a 404
            env[f"{first.upper()}_BASE_URL"] = f"{first_fake.base_url}/v9"
        else:
            first_fake.inject(fault, "create", times=5)
        async with start_bot(**env) as runtime:
            started = await start_job(tg, USER)
            task = await foxapi.wait_task()
            foxapi.succeed(task.id)
            await wait_video(tg, started)
            await wait_status_text(tg, started, "Done")
            await wait_idle(runtime)
            job = await only_job(runtime, USER)
            assert job.tried_providers == (first, "foxapi")
            assert len(first_fake.requests) == 1  # refused once, not retried blindly
            await assert_charged_once(runtime, USER)
            alerts = operator_alerts(tg)
            assert len(alerts) == 1 and "config" in alerts[0]  # one alert for the incident
            assert raw_words_seen(tg, USER) == []
            assert not any("Failed" in t for t in chat_texts(tg, USER))


async def test_a_second_refusal_in_the_same_incident_does_not_alert_again(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with (
        EvolinkFake(time_scale=TIME_SCALE, loopback_callbacks=True) as evolink,
        FoxapiFake(time_scale=TIME_SCALE) as foxapi,
    ):
        evolink.inject("404", "create", times=5)
        env = provider_env(evolink, foxapi, ADMIN_USER_IDS=str(ADMIN), DAILY_QUOTA="10")
        async with start_bot(**env) as runtime:
            for n, user in ((1, USER), (2, OTHER_USER)):
                started = await start_job(tg, user)
                task = await foxapi.wait_task(n)
                foxapi.succeed(task.id)
                await wait_video(tg, started)
                await wait_status_text(tg, started, "Done")
            await wait_idle(runtime)
            assert len(evolink.requests_to("create")) == 2
            assert len(operator_alerts(tg)) == 1


async def test_a_refusal_that_names_the_photo_is_the_users_and_is_not_failed_over(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with (
        EvolinkFake(time_scale=TIME_SCALE, loopback_callbacks=True) as evolink,
        FoxapiFake(time_scale=TIME_SCALE) as foxapi,
    ):
        message = "Image dimensions not supported: 120x100: a side is below 300 px"
        evolink.inject("400", "create", message=message)
        env = provider_env(evolink, foxapi, ADMIN_USER_IDS=str(ADMIN))
        async with start_bot(**env) as runtime:
            started = await start_job(tg, USER)
            failed = await wait_failure_message(tg, started, "photo")
            assert "refunded" in failed.params["text"]
            await wait_idle(runtime)
            assert foxapi.requests_to("create") == []
            assert operator_alerts(tg) == []
            await assert_refunded(runtime, USER)


async def test_a_refused_prompt_tells_the_user_to_reword_it(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with (
        ApikleyFake(time_scale=TIME_SCALE) as apikley,
        FoxapiFake(time_scale=TIME_SCALE) as foxapi,
    ):
        apikley.inject("422", "create", message="Validation error: input.prompt is not allowed")
        env = provider_env(apikley, foxapi, ADMIN_USER_IDS=str(ADMIN))
        async with start_bot(**env) as runtime:
            started = await start_job(tg, USER)
            failed = await wait_failure_message(tg, started, "refused this prompt")
            assert "refunded" in failed.params["text"]
            await wait_idle(runtime)
            assert foxapi.requests_to("create") == []  # the user's part: not failed over
            assert operator_alerts(tg) == []
            await assert_refunded(runtime, USER)


async def test_a_photo_the_provider_could_not_fetch_is_retried_then_failed_over(
    tg: FakeBotApi, start_bot: BotFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits = record_waits(monkeypatch)
    async with (
        EvolinkFake(time_scale=TIME_SCALE, loopback_callbacks=True) as evolink,
        FoxapiFake(time_scale=TIME_SCALE) as foxapi,
    ):
        message = "Image could not be processed: unreachable: HTTP 404"
        evolink.inject("400", "create", times=2, message=message)
        env = provider_env(evolink, foxapi, ADMIN_USER_IDS=str(ADMIN))
        async with start_bot(**env) as runtime:
            started = await start_job(tg, USER)
            task = await foxapi.wait_task()
            foxapi.succeed(task.id)
            await wait_video(tg, started)
            await wait_idle(runtime)
            assert len(evolink.requests_to("create")) == 2  # one retry after a pause
            assert waits == [1.0]
            assert operator_alerts(tg) == []  # the provider's side: nothing for the admins
            await assert_charged_once(runtime, USER)
            assert raw_words_seen(tg, USER) == []
