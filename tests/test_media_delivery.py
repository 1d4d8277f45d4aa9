"""Issue 10 end to end: every provider's result is checked before it is sent or paid for.

A result that does not play is downloaded once more, then the job fails with a refund, a clear
message, a metric and a log line naming the provider and task; nothing is sent. A result phones
would not play (VP9 WebM with a header that lies about its length) goes out as H.264 + AAC MP4
whose every frame decodes, with the length of its frames.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import pytest

from bot.catalog import ModelSpec
from bot.jobs import service as service_module
from bot.media.photos import PreparedPhoto, prepare_photo
from bot.models import JobStatus
from bot.testing.bot_api import FakeBotApi
from bot.testing.sample_media import make_sample_photo
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import is_options_message
from tests.media_factory import VideoSpec, decode_all, init_only_mp4, make_video, webm_claiming
from tests.provider_e2e_helpers import (
    VENDORS,
    Flavour,
    assert_charged_once,
    assert_refunded,
    ctx_of,
    flavour_job,
    flavour_params,
    only_job,
    provider_env,
    wait_failure_message,
    wait_video,
)


def init_only(tmp_path: Path) -> bytes:
    spec = VideoSpec(audio="aac", options={"movflags": "frag_keyframe+empty_moov"})
    return init_only_mp4(make_video(tmp_path / "frag.mp4", spec).read_bytes())


@pytest.mark.parametrize("flavour", flavour_params(VENDORS))
async def test_a_result_that_does_not_play_is_fetched_twice_then_refunded(
    tg: FakeBotApi,
    start_bot: BotFactory,
    flavour: Flavour,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with flavour.fake() as fake, start_bot(**provider_env(fake)) as runtime:
        started = await flavour_job(tg, USER, flavour)
        task = await fake.wait_task()
        fake.succeed(task.id, video=init_only(tmp_path))

        failed = await wait_failure_message(tg, started, "damaged video")
        assert "refunded" in failed.params["text"]
        await fake.idle()
        job = await only_job(runtime, USER)
        assert job.status is JobStatus.FAILED and job.error_kind == "broken_result"
        # Idle: the job is over, so nothing more can be fetched or sent.
        assert len(fake.requests_to("download")) == 2  # the first copy may have been cut short
        assert tg.calls_of("sendVideo") == []
        await assert_refunded(runtime, USER)
        metrics = ctx_of(runtime).metrics.registry
        count = metrics.get_sample_value("p2v_broken_results_total", {"provider": flavour.vendor})
        assert count == 1
    lines = [r.getMessage() for r in caplog.records if "broken result" in r.getMessage()]
    assert len(lines) == 1
    assert f"provider={flavour.vendor}" in lines[0] and f"task={task.id}" in lines[0]


async def test_a_vp9_webm_result_goes_out_as_h264_mp4_with_its_real_length(
    tg: FakeBotApi, start_bot: BotFactory, tmp_path: Path
) -> None:
    flavour = VENDORS[0]
    spec = VideoSpec(codec="libvpx-vp9", container="webm", frames=24, width=96, height=64)
    lying = webm_claiming(make_video(tmp_path / "result.webm", spec).read_bytes(), 3900)
    async with flavour.fake() as fake, start_bot(**provider_env(fake)) as runtime:
        started = await flavour_job(tg, USER, flavour)
        task = await fake.wait_task()
        fake.succeed(task.id, video=lying)
        video = await wait_video(tg, started)
        assert video.params["duration"] == 2  # not 3900
        assert (video.params["width"], video.params["height"]) == (96, 64)
        sent = tmp_path / "sent.mp4"
        sent.write_bytes(video.files["video"].data)
        got = decode_all(sent)
        assert got.video_codecs == ["h264"] and got.codec_tag == "avc1"
        assert got.audio_codecs == ["aac"] and got.frames == 24
        assert got.audio_s <= 2.0 + 1024 / 48_000
        await assert_charged_once(runtime, USER)


class HeldIntake:
    """Wraps the real `prepare_photo`: counts the intakes decoding at once, holds them."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, data: bytes, spec: ModelSpec | None = None) -> PreparedPhoto:
        with self._lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        try:
            self.release.wait(timeout=30)
            return prepare_photo(data, spec)
        finally:
            with self._lock:
                self.inside -= 1


async def test_at_most_two_photo_intakes_decode_at_once(
    tg: FakeBotApi, start_bot: BotFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldIntake()
    monkeypatch.setattr(service_module, "prepare_photo", held)
    users = [USER + n for n in range(4)]
    async with start_bot() as runtime:
        assert runtime.services is not None
        service = runtime.services.jobs
        for user in users:
            tg.user_photo(user, user, make_sample_photo(640, 480), "waves")

        # Two decode; the other two wait for a slot (they were downloaded already). Neither
        # state changes the fake Telegram, so the condition is re-checked on each loop turn.
        def two_in_two_waiting() -> bool:
            return held.inside == 2 and len(service._decoding._waiters or ()) == 2

        async with asyncio.timeout(10):
            # A poll: the state is the bot's own semaphore, which has no event to await.
            while not two_in_two_waiting():  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        held.release.set()
        for user in users:
            await tg.wait_call(
                "sendMessage", lambda c, u=user: c.params["chat_id"] == u and is_options_message(c)
            )
    assert held.most == 2
