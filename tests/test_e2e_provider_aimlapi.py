"""aimlapi end to end: the v2 create body (`image_url`, int `duration`, `resolution`) and
completion by polling `GET /v2/video/generations?generation_id=`.
"""

from __future__ import annotations

import pytest

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers import AimlapiFake, EvolinkFake
from bot.texts import raw
from tests.conftest import USER, BotFactory
from tests.provider_e2e_helpers import (
    TIME_SCALE,
    assert_charged_once,
    generate_on,
    labels,
    ledger,
    media_prefix,
    open_options,
    provider_env,
    record_waits,
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
        AimlapiFake(time_scale=TIME_SCALE) as aimlapi,
        start_bot(**provider_env(aimlapi)) as runtime,
    ):
        photo_id, options_id = await open_options(tg, USER, "leaves swirl")
        offered = labels((tg.message(USER, options_id) or {}).get("reply_markup"))
        # issue 11, finding 1: aimlapi picks the resolution from the photo for image-to-video,
        # so no quality is offered (nor priced); "auto" keeps the photo's shape (finding 2).
        assert not {"480p", "720p", "1080p"} & set(offered)
        auto = raw("en", "aspect_auto")  # issue 14 labels the value "auto" in words
        assert {"6 s", "10 s", "15 s", auto, "16:9", "9:16", "1:1"} <= set(offered)
        started = await generate_on(tg, USER, photo_id, options_id, ["10 s", "1:1"])
        task = await aimlapi.wait_task()
        assert task.body == {
            "model": "x-ai/grok-imagine-video",
            "image_url": task.body["image_url"],
            "duration": 10,
            "aspect_ratio": "1:1",
            "prompt": "leaves swirl",
        }
        assert task.body["image_url"].startswith(media_prefix(runtime))
        assert task.image_checks[0].ok
        await aimlapi.wait_for(lambda: task if task.queries >= 2 else None)
        aimlapi.succeed(task.id)
        await wait_video(tg, started)
        await wait_status_text(tg, started, "Done")
        queries = aimlapi.requests_to("query")
        assert {r.path for r in queries} == {"/v2/video/generations"}
        assert all(r.query == {"generation_id": task.id} for r in queries)
        await assert_charged_once(runtime, USER)
        assert (await ledger(runtime, USER))[1] == ("reserve", -2)  # 1 + 10 s 1, no quality


async def test_default_options_are_the_documented_defaults(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with (
        AimlapiFake(time_scale=TIME_SCALE) as aimlapi,
        start_bot(**provider_env(aimlapi)) as runtime,
    ):
        photo_id, options_id = await open_options(tg, USER, "leaves swirl")
        started = await generate_on(tg, USER, photo_id, options_id)
        task = await aimlapi.wait_task()
        body = task.body
        # a 640x480 photo: the documented ratio nearest to its shape, and no resolution
        assert (body["duration"], body["aspect_ratio"]) == (6, "4:3")
        assert "resolution" not in body
        aimlapi.succeed(task.id)
        await wait_video(tg, started)
        await wait_status_text(tg, started, "Done")
        await assert_charged_once(runtime, USER)


async def test_portrait_photo_after_evolink_failed_stays_portrait(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    """Issue 11, finding 2: evolink refuses (5xx), the job fails over to aimlapi, and the
    portrait photo comes back as a portrait video (aimlapi's default is 16:9)."""
    async with (
        EvolinkFake(time_scale=TIME_SCALE, loopback_callbacks=True) as evolink,
        AimlapiFake(time_scale=TIME_SCALE) as aimlapi,
        start_bot(**provider_env(evolink, aimlapi)),
    ):
        evolink.inject("500", "create", times=2)  # the create and its one retry
        photo_id, options_id = await open_options(tg, USER, "she waves", size=(480, 854))
        started = await generate_on(tg, USER, photo_id, options_id)
        task = await aimlapi.wait_task()
        assert task.body["aspect_ratio"] == "9:16" and "resolution" not in task.body
        aimlapi.succeed(task.id)
        video = await wait_video(tg, started)
        assert int(video.params["width"]) < int(video.params["height"])  # portrait delivered
