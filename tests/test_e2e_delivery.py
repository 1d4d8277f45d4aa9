"""Delivery as phones need it: video metadata, big results, flood control, throttled progress."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path

import av
import pytest

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from bot.testing.sample_media import make_big_file, make_sample_mp4
from tests.conftest import TOKEN, USER, BotFactory
from tests.e2e_helpers import options_message_id, press, send_photo_and_get_options
from tests.idle_barrier import wait_idle
from tests.telegram_helpers import ledger_kinds, only_job

MB = 1024 * 1024


async def generate(tg: FakeBotApi, caption: str = "waves") -> tuple[int, int]:
    photo, options = await send_photo_and_get_options(tg, USER, caption)
    msg_id = options_message_id(tg, USER, options)
    await press(tg, USER, USER, msg_id, "Generate")
    return photo["message_id"], msg_id


async def test_send_video_carries_size_duration_thumbnail_and_an_audio_track(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory, tmp_path: Path
) -> None:
    async with start_bot():
        await generate(tg)
        task = await evolink.wait_task()
        # a provider result with no audio track: Telegram would show it as a GIF
        evolink.succeed(task.id, video=make_sample_mp4(2.0, 160, 90, with_audio=False))
        video = await tg.wait_call("sendVideo", timeout=20)
    assert (video.params["width"], video.params["height"]) == (160, 90)
    assert video.params["duration"] == 2
    thumb_field = str(video.params["thumbnail"]).removeprefix("attach://")
    thumb = video.files[thumb_field].data
    assert thumb[:3] == b"\xff\xd8\xff" and len(thumb) < 200 * 1024  # a JPEG under 200 kB
    sent = tmp_path / "sent.mp4"
    sent.write_bytes(video.files["video"].data)
    with av.open(str(sent)) as container:
        assert container.streams.audio, "a silent track was added so it is not shown as a GIF"
        assert container.streams.video[0].codec_context.name == "h264"


async def test_a_result_over_50_mb_goes_out_as_a_link(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        photo_id, msg_id = await generate(tg)
        task = await evolink.wait_task()
        evolink.succeed(task.id, video=make_big_file(60 * MB))
        link = await tg.wait_call("sendMessage", lambda c: "/files/" in c.params.get("text", ""))
        assert link.params["reply_parameters"]["message_id"] == photo_id
        assert "60 MB" in link.params["text"] and "UTC" in link.params["text"]
        assert runtime.ctx is not None
        store = runtime.ctx.store

        async def delivered() -> bool:
            return (await store.recent_for_user(USER))[0].status.value == "delivered"

        await tg.wait_until(lambda: "Done" in (tg.message(USER, msg_id) or {}).get("text", ""))
        assert await delivered()
        assert tg.calls_of("sendVideo") == []


@pytest.fixture(name="tg_local")
async def _tg_local() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi(TOKEN, local_mode=True)
    await fake.start()
    yield fake
    await fake.stop()


async def test_a_result_over_50_mb_is_a_video_with_a_local_bot_api_server(
    tg_local: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot(TELEGRAM_API_BASE_URL=tg_local.base_url, TELEGRAM_LOCAL_MODE="true"):
        await generate(tg_local)
        task = await evolink.wait_task()
        evolink.succeed(task.id, video=make_big_file(60 * MB))
        video = await tg_local.wait_call("sendVideo", timeout=60)
        assert video.status == 200 and video.files["video"].data[4:8] == b"ftyp"
        downloads = [r for r in evolink.requests if r.route == "download"]
        assert len(downloads) == 1  # fetched in full (60 MB) rather than sent as a link
        assert not [c for c in tg_local.calls_of("sendMessage") if "/files/" in c.params["text"]]


async def test_flood_control_429_loses_no_message(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        tg.inject("sendMessage", status=429, retry_after=1, times=2)
        tg.inject("sendVideo", status=429, retry_after=1, times=1)
        await generate(tg)
        task = await evolink.wait_task()
        evolink.succeed(task.id)
        await tg.wait_call("sendVideo", lambda c: c.status == 200, timeout=30)
        await wait_idle(tg, runtime, evolink)
        refused = [c for c in tg.calls if c.status == 429]
        assert len(refused) == 3
        assert len([c for c in tg.calls_of("sendVideo") if c.status == 200]) == 1


async def test_a_long_flood_wait_on_send_video_is_sat_out_not_refunded(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    """Six 429s in a row on sendVideo, one more than PTB sits out for any other call: the paid
    video still arrives, once, and is charged, never refunded."""
    async with start_bot() as runtime:
        tg.inject("sendVideo", status=429, retry_after=1, times=6)
        await generate(tg)
        task = await evolink.wait_task()
        evolink.succeed(task.id)
        await tg.wait_call("sendVideo", lambda c: c.status == 200, timeout=30)
        await wait_idle(tg, runtime, evolink)
        statuses = [c.status for c in tg.calls_of("sendVideo")]
        assert statuses == [429] * 6 + [200]
        assert (await only_job(runtime, USER)).status.value == "delivered"
        assert "refund" not in await ledger_kinds(runtime, USER)  # charged: reserved, settled
        assert (await ledger_kinds(runtime, USER))[-2:] == ["reserve", "settle"]


async def test_progress_edits_are_rate_limited_and_never_repeat_a_text(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    evolink.running_progress = 1  # every query reports more progress
    states = ["processing"] * 30 + ["completed"]
    evolink.script(states)
    started = time.monotonic()
    async with start_bot(
        CALLBACK_GRACE_S="0.05", POLL_INITIAL_S="0.05", POLL_MAX_S="0.05",
        STATUS_EDIT_INTERVAL_S="5",
    ):  # fmt: skip
        _, msg_id = await generate(tg)
        await tg.wait_call("sendVideo", timeout=30)
    elapsed = time.monotonic() - started
    queries = [r for r in evolink.requests if r.route == "query"]
    assert len(queries) >= 30
    edits = [c for c in tg.calls_of("editMessageText") if c.params["message_id"] == msg_id]
    progress_edits = [c for c in edits if "Generating" in c.params["text"]]
    # one forced edit on submission, then at most one every 5 s however often the task moved
    assert len(progress_edits) <= 2 + int(elapsed / 5)
    texts = [c.params["text"] for c in edits]
    assert all(a != b for a, b in itertools.pairwise(texts))
