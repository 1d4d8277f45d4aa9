"""Issue 11, finding 7: what the bot promises follows the provider documents.

A video too big to upload is sent as the provider's link with the provider's documented
retention counted from generation (never "24 h from now"), or no expiry at all when the provider
documents none. apikley documents English-only prompts: a prompt in another script goes to a
provider without that limit when one sells the model, and otherwise the user is told before
paying that English works best there.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers import AimlapiFake, ApikleyFake, FoxapiFake
from bot.testing.sample_media import make_big_file
from tests.conftest import USER, BotFactory
from tests.provider_e2e_helpers import (
    TIME_SCALE,
    chat_texts,
    only_job,
    open_options,
    provider_env,
    start_job,
    wait_idle,
    wait_status_text,
)

# One byte over what a bot may upload; a real video (a link is offered only for a checked one).
TOO_BIG = make_big_file(50 * 1024 * 1024 + 1)


@pytest.mark.parametrize("vendor", ["foxapi", "aimlapi"])
async def test_too_big_link_states_the_documented_retention_or_none(
    tg: FakeBotApi, start_bot: BotFactory, vendor: str
) -> None:
    fake = FoxapiFake(time_scale=TIME_SCALE) if vendor == "foxapi" else AimlapiFake()
    async with fake, start_bot(**provider_env(fake)) as runtime:
        started = await start_job(tg, USER)
        task = await fake.wait_task()
        fake.succeed(task.id, video=TOO_BIG)
        await wait_status_text(tg, started, "Done")
        await wait_idle(runtime)
        job = await only_job(runtime, USER)
        (link,) = [t for t in chat_texts(tg, USER) if fake.result_url(task.id) in t]
        if vendor == "foxapi":  # "results valid 24 h": from generation, after submission
            assert job.submitted_at is not None
            until = datetime.fromtimestamp(job.submitted_at + 24 * 3600, UTC)
            assert f"works until {until:%Y-%m-%d %H:%M} UTC" in link
        else:  # aimlapi documents no lifetime: no promise
            assert "until" not in link and "temporary" in link


async def test_a_cyrillic_prompt_goes_to_a_provider_without_the_english_only_limit(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with (
        ApikleyFake(time_scale=TIME_SCALE) as apikley,
        FoxapiFake(time_scale=TIME_SCALE) as foxapi,
        start_bot(**provider_env(apikley, foxapi)) as runtime,
    ):
        started = await start_job(tg, USER, "кот поворачивает голову")
        task = await foxapi.wait_task()
        assert task.body["prompt"] == "кот поворачивает голову"
        foxapi.succeed(task.id)
        await wait_status_text(tg, started, "Done")
        assert apikley.requests_to("create") == []
        assert (await only_job(runtime, USER)).provider == "foxapi"
        options = [t for t in chat_texts(tg, USER) if "English" in t]
        assert options == []  # nothing to warn about: it did not go to apikley


@pytest.mark.parametrize(
    ("prompt", "warned"), [("кот поворачивает голову", True), ("a cat turns its head", False)]
)
async def test_only_an_english_only_provider_warns_before_paying(
    tg: FakeBotApi, start_bot: BotFactory, prompt: str, warned: bool
) -> None:
    async with (
        ApikleyFake(time_scale=TIME_SCALE) as apikley,
        start_bot(**provider_env(apikley)),
    ):
        _photo_id, options_id = await open_options(tg, USER, prompt)
        text = str((tg.message(USER, options_id) or {}).get("text", ""))
        assert ("works best with prompts in English" in text) is warned
