"""foxapi end to end: the create body (`image_url` string, `resolution`), completion by polling
in both documented result shapes, and an unknown status that only means "keep polling".
"""

from __future__ import annotations

import pytest

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers import FoxapiFake
from tests.conftest import USER, BotFactory
from tests.provider_e2e_helpers import (
    TIME_SCALE,
    assert_charged_once,
    generate_on,
    labels,
    ledger,
    media_prefix,
    only_job,
    open_options,
    provider_env,
    record_waits,
    start_job,
    url_status,
    wait_status_text,
    wait_video,
)


@pytest.fixture(name="waits", autouse=True)
def _waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    return record_waits(monkeypatch)


async def test_create_body_maps_options_and_polling_completes(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with (
        FoxapiFake(time_scale=TIME_SCALE) as foxapi,
        start_bot(**provider_env(foxapi)) as runtime,
    ):
        photo_id, options_id = await open_options(tg, USER, "rain falls")
        offered = labels((tg.message(USER, options_id) or {}).get("reply_markup"))
        assert offered[:9] == ["6 s", "10 s", "15 s", "Auto", "16:9", "9:16", "1:1", "4:3", "3:4"]
        assert offered[9:11] == ["480p", "720p"] and "Fun" not in offered
        started = await generate_on(tg, USER, photo_id, options_id, ["15 s", "9:16", "720p"])
        task = await foxapi.wait_task()
        assert task.body == {
            "model": "grok-imagine-image-to-video",
            "prompt": "rain falls",
            "image_url": task.body["image_url"],
            "duration": 15,
            "aspect_ratio": "9:16",
            "resolution": "720p",
        }
        assert isinstance(task.body["image_url"], str)
        assert task.body["image_url"].startswith(media_prefix(runtime))
        assert task.image_checks[0].ok
        assert await url_status(task.body["image_url"]) == 200  # served while the job runs
        # no callback exists: the bot polls the task until it is done
        await foxapi.wait_for(lambda: task if task.queries >= 2 else None)
        foxapi.succeed(task.id)
        await wait_video(tg, started)
        await wait_status_text(tg, started, "Done")
        assert await url_status(task.body["image_url"]) == 404  # and never after it ended
        assert all(r.path == f"/v1/tasks/{task.id}" for r in foxapi.requests_to("query"))
        assert foxapi.callback_attempts == []
        await assert_charged_once(runtime, USER)
        assert (await ledger(runtime, USER))[1] == ("reserve", -4)  # 1 + 15 s 2 + 720p 1
        assert (await only_job(runtime, USER)).provider == "foxapi"


async def test_the_older_output_shape_is_read_too(tg: FakeBotApi, start_bot: BotFactory) -> None:
    async with (
        FoxapiFake(time_scale=TIME_SCALE, legacy_output=True) as foxapi,
        start_bot(**provider_env(foxapi)) as runtime,
    ):
        started = await start_job(tg, USER)
        task = await foxapi.wait_task()
        foxapi.succeed(task.id)
        await wait_video(tg, started)
        await wait_status_text(tg, started, "Done")
        await assert_charged_once(runtime, USER)


async def test_an_unknown_status_keeps_polling_until_done(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with (
        FoxapiFake(time_scale=TIME_SCALE) as foxapi,
        start_bot(**provider_env(foxapi)) as runtime,
    ):
        foxapi.script(["pending", "upscaling", "processing", "completed"])
        started = await start_job(tg, USER)
        await wait_video(tg, started)
        task = await foxapi.wait_task()
        assert "upscaling" in task.history
        await wait_status_text(tg, started, "Done")
        await assert_charged_once(runtime, USER)
