"""Every provider through the real bot: failed tasks, faults, deadlines, operator errors, failover,
and the local renderer with no key at all (issue 4, "Fakes and tests").

Each fault ends in delivery or in a clean failure with a refund before the job's deadline; a
create whose outcome is unknown is never sent twice; the user never sees a vendor's raw words.
Backoff waits are recorded instead of slept (`record_waits`), so the suite stays fast.
"""

from __future__ import annotations

import io
import time
from typing import Any

import av
import pytest
from PIL import ImageChops, ImageStat

from bot.jobs import poller
from bot.models import Job
from bot.testing.bot_api import FakeBotApi
from bot.testing.providers import ApikleyFake, EvolinkFake, FakeProviderServer, FoxapiFake
from tests.conftest import OTHER_USER, USER, BotFactory, free_port
from tests.lifecycle_support import swap_in_context
from tests.provider_e2e_helpers import (
    ADMIN,
    AIMLAPI,
    APIKLEY,
    FLAVOURS,
    FOXAPI,
    GROK,
    HAPPYHORSE,
    TIME_SCALE,
    VENDORS,
    Flavour,
    assert_charged_once,
    assert_refunded,
    chat_texts,
    ctx_of,
    flavour_job,
    flavour_params,
    generate_on,
    labels,
    ledger,
    only_job,
    open_options,
    provider_env,
    raw_words_seen,
    record_waits,
    short_provider_timeout,
    start_job,
    url_status,
    wait_failure_message,
    wait_status_text,
    wait_video,
)


@pytest.fixture(name="waits", autouse=True)
def _waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    return record_waits(monkeypatch)


def _before_deadline(job: Job) -> None:
    assert job.deadline_at is not None and job.updated_at <= job.deadline_at


def _combos(flavours: tuple[Flavour, ...], *faults: str) -> list[Any]:
    return [pytest.param(f, fault, id=f"{f.id}-{fault}") for f in flavours for fault in faults]


# ---- a task the provider fails ----------------------------------------------------------------

FAILURES = [
    pytest.param(GROK, "generation_failed_no_content", "No video.", "had a problem", id="grok"),
    pytest.param(
        HAPPYHORSE,
        "content_policy_violation",
        "Content policy violation.",
        "content rules",
        id="happyhorse-policy",
    ),
    pytest.param(APIKLEY, "500", "Internal server error", "had a problem", id="apikley"),
    pytest.param(
        APIKLEY,
        "400",
        "Your prompt was flagged by the moderation system",
        "content rules",
        id="apikley-moderation",
    ),
    pytest.param(FOXAPI, "generation_timeout", "Generation timed out", "took too long", id="fox"),
    pytest.param(
        AIMLAPI, "GenerationError", "Video generation failed", "had a problem", id="aiml"
    ),
    pytest.param(
        AIMLAPI,
        "ModerationError",
        "The request was flagged by moderation",
        "content rules",
        id="aimlapi-moderation",
    ),
]


@pytest.mark.parametrize(("flavour", "code", "message", "expected"), FAILURES)
async def test_a_failed_task_is_explained_and_refunded(
    tg: FakeBotApi,
    start_bot: BotFactory,
    flavour: Flavour,
    code: str,
    message: str,
    expected: str,
) -> None:
    async with flavour.fake() as fake, start_bot(**provider_env(fake)) as runtime:
        started = await flavour_job(tg, USER, flavour)
        task = await fake.wait_task()
        await wait_status_text(tg, started, "Generating")
        fake.fail(task.id, code, message)
        failed = await wait_failure_message(tg, started, expected)
        assert "refunded" in failed.params["text"]
        # a refusal offers a new description; anything else Try again
        button = "New description" if expected == "content rules" else "Try again"
        assert button in str(failed.params["reply_markup"])
        # said once: the status message above only points at the failure message
        assert "Failed" in await wait_status_text(tg, started, "Details below")
        assert raw_words_seen(tg, USER) == []
        assert message.lower() not in "\n".join(chat_texts(tg, USER)).lower()
        await assert_refunded(runtime, USER)
        job = await only_job(runtime, USER)
        assert job.status.value == "failed"
        _before_deadline(job)
        assert tg.calls_of("sendVideo") == []
        assert await url_status(task.image_checks[0].url) == 404  # the photo is no longer served


# ---- faults on create ----------------------------------------------------------------------

CREATE_RECOVERS = {"429": [3.0], "500": [1.0], "html502": [1.0]}


@pytest.mark.parametrize(("flavour", "fault"), _combos(VENDORS, *CREATE_RECOVERS))
async def test_a_passing_create_fault_is_retried_and_the_job_delivered(
    tg: FakeBotApi, start_bot: BotFactory, waits: list[float], flavour: Flavour, fault: str
) -> None:
    async with flavour.fake() as fake, start_bot(**provider_env(fake)) as runtime:
        fake.inject(fault, "create", retry_after=3 if fault == "429" else None)
        started = await flavour_job(tg, USER, flavour)
        task = await fake.wait_task()
        assert task.model == flavour.vendor_model
        fake.succeed(task.id)
        await wait_video(tg, started)
        await wait_status_text(tg, started, "Done")
        assert len(fake.requests_to("create")) == 2
        assert len(fake.tasks) == 1
        assert waits == CREATE_RECOVERS[fault]  # 429: at least its Retry-After
        await assert_charged_once(runtime, USER)
        _before_deadline(await only_job(runtime, USER))
        assert raw_words_seen(tg, USER) == []


CREATE_GIVES_UP = {
    # fault: (times armed, create requests the bot makes, what the user reads, waits)
    "500": (2, 2, "had a problem", [1.0]),
    "html502": (2, 2, "had a problem", [1.0]),
    "429": (3, 3, "unavailable", [1.0, 1.0]),
}


@pytest.mark.parametrize(("flavour", "fault"), _combos(VENDORS, *CREATE_GIVES_UP))
async def test_a_lasting_create_fault_fails_cleanly_with_a_refund(
    tg: FakeBotApi, start_bot: BotFactory, waits: list[float], flavour: Flavour, fault: str
) -> None:
    times, creates, expected, expected_waits = CREATE_GIVES_UP[fault]
    async with flavour.fake() as fake, start_bot(**provider_env(fake)) as runtime:
        fake.inject(fault, "create", times=times, retry_after=1 if fault == "429" else None)
        started = await flavour_job(tg, USER, flavour)
        failed = await wait_failure_message(tg, started, expected)
        assert "refunded" in failed.params["text"]
        assert len(fake.requests_to("create")) == creates
        assert fake.tasks == {}
        assert waits == expected_waits
        assert raw_words_seen(tg, USER) == []
        await assert_refunded(runtime, USER)
        _before_deadline(await only_job(runtime, USER))


# The client code that turns these two into "outcome unknown" is shared by every adapter, so the
# slow one (a real read timeout) runs for one callback and one polling vendor.
UNKNOWN_OUTCOME = [*_combos(VENDORS, "malformed"), *_combos((GROK, AIMLAPI), "timeout")]


@pytest.mark.parametrize(("flavour", "fault"), UNKNOWN_OUTCOME)
async def test_a_create_with_an_unknown_outcome_is_sent_once_then_refunded(
    tg: FakeBotApi,
    start_bot: BotFactory,
    monkeypatch: pytest.MonkeyPatch,
    waits: list[float],
    flavour: Flavour,
    fault: str,
) -> None:
    """The request reached the vendor (a task may exist and be billed): never sent again."""
    short_provider_timeout(monkeypatch)
    async with flavour.fake() as fake, start_bot(**provider_env(fake)) as runtime:
        fake.inject(fault, "create")
        started = await flavour_job(tg, USER, flavour)
        failed = await wait_failure_message(tg, started, "lost contact")
        assert "refunded" in failed.params["text"]
        assert len(fake.requests_to("create")) == 1
        assert len(fake.tasks) == 1  # the vendor did make the task
        assert waits == []
        assert raw_words_seen(tg, USER) == []
        await assert_refunded(runtime, USER)
        job = await only_job(runtime, USER)
        assert job.status.value == "failed" and job.error_kind == "unknown_outcome"
        _before_deadline(job)


# ---- faults on query -----------------------------------------------------------------------

QUERY_FAULTS = {
    # fault: (times armed, waits of the one failing check)
    "429": (3, [1.0, 1.0]),
    "500": (3, [1.0, 2.0]),
    "html502": (3, [1.0, 2.0]),
    "malformed": (3, [1.0, 2.0]),
    "timeout": (1, [1.0]),
}


# Error bodies are read by each adapter (all vendors); an unreadable body and a read timeout are
# handled by the shared client before any adapter code (one callback, one polling vendor each).
QUERY_COMBOS = [
    *_combos(VENDORS, "429", "500", "html502"),
    *_combos((GROK, FOXAPI), "malformed"),
    *_combos((APIKLEY, AIMLAPI), "timeout"),
]


@pytest.mark.parametrize(("flavour", "fault"), QUERY_COMBOS)
async def test_query_faults_are_polled_through_to_delivery(
    tg: FakeBotApi,
    start_bot: BotFactory,
    monkeypatch: pytest.MonkeyPatch,
    waits: list[float],
    flavour: Flavour,
    fault: str,
) -> None:
    times, expected_waits = QUERY_FAULTS[fault]
    short_provider_timeout(monkeypatch)
    async with flavour.fake() as fake, start_bot(**provider_env(fake)) as runtime:
        fake.inject(fault, "query", times=times, retry_after=1 if fault == "429" else None)
        started = await flavour_job(tg, USER, flavour)
        task = await fake.wait_task()
        fake.succeed(task.id)
        await wait_video(tg, started)
        await wait_status_text(tg, started, "Done")
        assert len(fake.requests_to("query")) > times
        assert len(fake.requests_to("create")) == 1
        assert waits == expected_waits
        assert raw_words_seen(tg, USER) == []
        await assert_charged_once(runtime, USER)
        _before_deadline(await only_job(runtime, USER))


# ---- a task the provider no longer knows, a key revoked mid-job ------------------------------


@pytest.mark.parametrize(
    ("flavour", "times"),
    [
        *(pytest.param(f, 3, id=f"{f.id}-gone") for f in VENDORS),
        pytest.param(GROK, 1, id="evolink-grok-once"),
        pytest.param(FOXAPI, 1, id="foxapi-once"),
    ],
)
async def test_a_task_the_provider_does_not_know_is_rechecked_then_given_up(
    tg: FakeBotApi, start_bot: BotFactory, flavour: Flavour, times: int
) -> None:
    """404 on query: rechecked (it may be a glitch); after three in a row, failed and refunded."""
    async with flavour.fake() as fake, start_bot(**provider_env(fake)) as runtime:
        fake.inject("404", "query", times=times)
        started = await flavour_job(tg, USER, flavour)
        task = await fake.wait_task()
        if times < 3:
            fake.succeed(task.id)
            await wait_video(tg, started)
            await wait_status_text(tg, started, "Done")
            await assert_charged_once(runtime, USER)
        else:
            if flavour.callbacks:
                fake.succeed(task.id)  # the callback starts the (failing) checks
            failed = await wait_failure_message(tg, started, "had a problem")
            assert "refunded" in failed.params["text"]
            assert len(fake.requests_to("query")) == 3
            await assert_refunded(runtime, USER)
        assert raw_words_seen(tg, USER) == []
        _before_deadline(await only_job(runtime, USER))


@pytest.mark.parametrize("flavour", flavour_params((GROK, AIMLAPI)))
async def test_a_key_refused_while_polling_alerts_the_admin_and_keeps_the_job(
    tg: FakeBotApi, start_bot: BotFactory, flavour: Flavour
) -> None:
    async with flavour.fake() as fake:
        async with start_bot(**provider_env(fake, ADMIN_USER_IDS=str(ADMIN))) as runtime:
            tg.user_text(ADMIN, ADMIN, "/start")
            await tg.wait_call("sendMessage", lambda c: c.params["chat_id"] == ADMIN)
            fake.inject("401", "query")
            started = await flavour_job(tg, USER, flavour)
            task = await fake.wait_task()
            fake.succeed(task.id)
            await wait_video(tg, started)
            await wait_status_text(tg, started, "Done")
            alerts = [
                c
                for c in tg.calls_of("sendMessage")
                if c.params["chat_id"] == ADMIN and "Operator alert" in c.params["text"]
            ]
            assert len(alerts) == 1 and "auth" in alerts[0].params["text"]
            assert raw_words_seen(tg, USER) == []
            await assert_charged_once(runtime, USER)


# ---- faults on the result download ----------------------------------------------------------


@pytest.mark.parametrize("flavour", flavour_params(VENDORS))
async def test_a_result_url_that_is_gone_fails_cleanly_with_a_refund(
    tg: FakeBotApi, start_bot: BotFactory, flavour: Flavour
) -> None:
    async with flavour.fake() as fake, start_bot(**provider_env(fake)) as runtime:
        fake.result_status = 404
        started = await flavour_job(tg, USER, flavour)
        task = await fake.wait_task()
        fake.succeed(task.id)
        failed = await wait_failure_message(tg, started, "could not download")
        assert "refunded" in failed.params["text"]
        assert len(fake.requests_to("download")) >= 1
        assert raw_words_seen(tg, USER) == []
        await assert_refunded(runtime, USER)
        assert tg.calls_of("sendVideo") == []


async def test_a_rate_limited_result_download_is_waited_out_and_delivered(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with GROK.fake() as fake, start_bot(**provider_env(fake)) as runtime:
        fake.inject("429", "download", retry_after=1)
        started = await flavour_job(tg, USER, GROK)
        task = await fake.wait_task()
        fake.succeed(task.id)
        # whichever comes first: the video, or the job given up
        await tg.wait_until(
            lambda: (
                bool(tg.calls_of("sendVideo"))
                or any("refunded" in str(c.params.get("text")) for c in tg.calls_of("sendMessage"))
            ),
            timeout=15,
        )
        await wait_video(tg, started, within=1)
        await wait_status_text(tg, started, "Done")  # delivery recorded after Telegram's answer
        assert len(fake.requests_to("download")) == 2
        await assert_charged_once(runtime, USER)


# ---- a task that never finishes --------------------------------------------------------------


@pytest.mark.parametrize("flavour", flavour_params(FLAVOURS))
async def test_a_task_that_never_finishes_expires_at_the_deadline_with_a_refund(
    tg: FakeBotApi, start_bot: BotFactory, monkeypatch: pytest.MonkeyPatch, flavour: Flavour
) -> None:
    monkeypatch.setattr(poller, "WATCHDOG_EVERY_S", 0.05)
    floor = 1.0
    env = {"JOB_DEADLINE_FLOOR_S": str(floor), "CALLBACK_GRACE_S": "0"}
    async with flavour.fake() as fake, start_bot(**provider_env(fake, **env)) as runtime:
        started = await flavour_job(tg, USER, flavour)
        task = await fake.wait_task()
        await wait_status_text(tg, started, "Generating")
        job = await only_job(runtime, USER)
        assert job.deadline_at is not None and job.submitted_at is not None
        span = job.deadline_at - job.submitted_at
        # the deadline is the floor, or three times the provider's own estimate
        assert span == pytest.approx(max(floor, 3 * (job.eta_s or 0)), abs=0.01)
        await fake.wait_for(lambda: task if task.queries >= 1 else None)  # it is polled
        if span > floor:
            # evolink and foxapi estimate minutes: travel to the deadline instead of waiting
            ctx = ctx_of(runtime)
            swap_in_context(ctx, clock=lambda: time.time() + span)
        expired = await wait_failure_message(tg, started, "Took too long")
        assert "refunded" in expired.params["text"]
        assert "Try again" in str(expired.params["reply_markup"])
        assert not fake.is_terminal(task.status)  # the provider never finished it
        assert raw_words_seen(tg, USER) == []
        await assert_refunded(runtime, USER)
        assert (await only_job(runtime, USER)).status.value == "expired"
        assert tg.calls_of("sendVideo") == []


# ---- operator errors -------------------------------------------------------------------------

OPERATOR = [
    *(pytest.param(f, "401", "auth", id=f"{f.id}-401") for f in VENDORS),
    *(pytest.param(f, "402", "insufficient_credits", id=f"{f.id}-402") for f in VENDORS[:3]),
    pytest.param(AIMLAPI, "403", "insufficient_credits", id="aimlapi-403"),
]


@pytest.mark.parametrize(("flavour", "status", "kind"), OPERATOR)
async def test_an_operator_error_alerts_the_admin_once_and_tells_users_plainly(
    tg: FakeBotApi, start_bot: BotFactory, flavour: Flavour, status: str, kind: str
) -> None:
    async with flavour.fake() as fake:
        env = provider_env(fake, ADMIN_USER_IDS=str(ADMIN))
        async with start_bot(**env) as runtime:
            tg.user_text(ADMIN, ADMIN, "/start")
            await tg.wait_call("sendMessage", lambda c: c.params["chat_id"] == ADMIN)
            fake.inject(status, "create", times=2)
            for user in (USER, OTHER_USER):  # two jobs, one incident
                started = await flavour_job(tg, user, flavour)
                failed = await wait_failure_message(tg, started, "unavailable")
                assert "refunded" in failed.params["text"]
                assert raw_words_seen(tg, user) == []
                await assert_refunded(runtime, user)
            alerts = [
                c
                for c in tg.calls_of("sendMessage")
                if c.params["chat_id"] == ADMIN and "Operator alert" in c.params["text"]
            ]
            assert len(alerts) == 1
            assert flavour.vendor in alerts[0].params["text"] and kind in alerts[0].params["text"]
            # one create per job, not retried: only the operator can fix it
            assert len(fake.requests_to("create")) == 2


# ---- failover --------------------------------------------------------------------------------


def _second(name: str) -> FakeProviderServer:
    cls = FoxapiFake if name == "foxapi" else ApikleyFake
    return cls(time_scale=TIME_SCALE)


FAILOVER = [
    pytest.param("500", "foxapi", 2, id="500-foxapi"),
    pytest.param("401", "apikley", 1, id="401-apikley"),
    pytest.param("html502", "apikley", 2, id="html502-apikley"),
    pytest.param("429", "foxapi", 1, id="429-long-retry-after-foxapi"),
    pytest.param("402", "foxapi", 1, id="402-foxapi"),
    pytest.param("down", "foxapi", 0, id="unreachable-foxapi"),
]


@pytest.mark.parametrize(("fault", "second_name", "first_creates"), FAILOVER)
async def test_first_provider_refuses_the_job_completes_on_the_second_charged_once(
    tg: FakeBotApi,
    start_bot: BotFactory,
    waits: list[float],
    fault: str,
    second_name: str,
    first_creates: int,
) -> None:
    async with (
        EvolinkFake(time_scale=TIME_SCALE, loopback_callbacks=True) as evolink,
        _second(second_name) as second,
    ):
        env = provider_env(evolink, second, ADMIN_USER_IDS=str(ADMIN))
        if fault == "down":
            env["EVOLINK_BASE_URL"] = f"http://127.0.0.1:{free_port()}"  # nothing listens
        elif fault == "429":
            evolink.inject("429", "create", retry_after=120)  # longer than the bot would block
        else:
            evolink.inject(fault, "create", times=2)
        async with start_bot(**env) as runtime:
            started = await start_job(tg, USER)
            task = await second.wait_task()
            second.succeed(task.id)
            await wait_video(tg, started)
            await wait_status_text(tg, started, "Done")
            job = await only_job(runtime, USER)
            assert job.provider == second_name
            assert job.tried_providers == ("evolink", second_name)
            assert len(evolink.requests_to("create")) == first_creates
            assert evolink.tasks == {}
            assert len(second.requests_to("create")) == 1
            assert all(w <= 30 for w in waits)  # the 120 s Retry-After was not waited for
            await assert_charged_once(runtime, USER)
            assert (await ledger(runtime, USER))[1] == ("reserve", -1)
            texts = chat_texts(tg, USER)
            assert raw_words_seen(tg, USER) == []
            assert not any("Failed" in t or "refunded" in t for t in texts)
            alerts = [
                c
                for c in tg.calls_of("sendMessage")
                if c.params["chat_id"] == ADMIN and "Operator alert" in c.params["text"]
            ]
            assert len(alerts) == (1 if fault in ("401", "402") else 0)


async def test_every_provider_down_fails_once_with_one_refund(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with (
        EvolinkFake(time_scale=TIME_SCALE, loopback_callbacks=True) as evolink,
        _second("foxapi") as foxapi,
    ):
        evolink.inject("500", "create", times=2)
        foxapi.inject("html502", "create", times=2)
        async with start_bot(**provider_env(evolink, foxapi)) as runtime:
            started = await start_job(tg, USER)
            failed = await wait_failure_message(tg, started, "had a problem")
            assert "refunded" in failed.params["text"]
            assert len(evolink.requests_to("create")) == 2
            assert len(foxapi.requests_to("create")) == 2
            assert raw_words_seen(tg, USER) == []
            await assert_refunded(runtime, USER)
            job = await only_job(runtime, USER)
            assert job.tried_providers == ("evolink", "foxapi")
            failures = [c for c in tg.calls_of("sendMessage") if "Failed" in c.params["text"]]
            assert len(failures) == 1


NO_FAILOVER = [
    pytest.param(["Spicy"], "apikley", id="spicy-apikley"),
    pytest.param(["10 s"], "apikley", id="10s-apikley"),
    pytest.param(["Spicy"], "foxapi", id="spicy-foxapi"),
    pytest.param(["720p", "Fun"], "foxapi", id="fun-foxapi"),
    pytest.param(["HappyHorse 1.0"], "foxapi", id="happyhorse-foxapi"),
]


@pytest.mark.parametrize(("picks", "second_name"), NO_FAILOVER)
async def test_a_choice_the_second_provider_cannot_make_is_not_failed_over(
    tg: FakeBotApi, start_bot: BotFactory, picks: list[str], second_name: str
) -> None:
    async with (
        EvolinkFake(time_scale=TIME_SCALE, loopback_callbacks=True) as evolink,
        _second(second_name) as second,
    ):
        evolink.inject("500", "create", times=2)
        async with start_bot(**provider_env(evolink, second, DAILY_QUOTA="10")) as runtime:
            started = await start_job(tg, USER, picks=picks)
            failed = await wait_failure_message(tg, started, "had a problem")
            assert "refunded" in failed.params["text"]
            assert second.requests == []  # never asked for what it cannot make
            assert len(evolink.requests_to("create")) == 2
            assert raw_words_seen(tg, USER) == []
            await assert_refunded(runtime, USER, quota=10)
            assert (await only_job(runtime, USER)).tried_providers == ("evolink",)


@pytest.mark.parametrize("fault", ["timeout", "malformed"])
async def test_a_create_with_an_unknown_outcome_is_not_failed_over(
    tg: FakeBotApi, start_bot: BotFactory, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    short_provider_timeout(monkeypatch)
    async with (
        EvolinkFake(time_scale=TIME_SCALE, loopback_callbacks=True) as evolink,
        _second("foxapi") as foxapi,
    ):
        evolink.inject(fault, "create")
        async with start_bot(**provider_env(evolink, foxapi)) as runtime:
            started = await start_job(tg, USER)
            await wait_failure_message(tg, started, "lost contact")
            assert len(evolink.requests_to("create")) == 1
            assert foxapi.requests == []
            await assert_refunded(runtime, USER)


# ---- the local renderer ----------------------------------------------------------------------


async def test_with_no_provider_key_the_local_renderer_answers_with_a_video(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    # only a token: no provider key and no public URL
    async with start_bot(**provider_env(PUBLIC_BASE_URL="")) as runtime:
        assert runtime.settings.public_base_url is None
        assert [p.name for p in ctx_of(runtime).registry.providers] == ["local"]
        photo_id, options_id = await open_options(tg, USER, "slow zoom")
        offered = labels((tg.message(USER, options_id) or {}).get("reply_markup"))
        assert offered[:2] == ["5 s", "10 s"]
        started = await generate_on(tg, USER, photo_id, options_id)
        video = await wait_video(tg, started, within=60)
        await wait_status_text(tg, started, "Done")
        assert video.params["duration"] == 5
        assert video.params["width"] * 3 == video.params["height"] * 4  # the photo's 4:3
        with av.open(io.BytesIO(video.files["video"].data), mode="r") as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert stream.duration is not None and stream.time_base is not None
            assert 4.5 <= float(stream.duration * stream.time_base) <= 5.5
            frames = [f.to_image().convert("L") for f in container.decode(stream)]  # type: ignore[no-untyped-call]
        assert len(frames) >= 5 * 20
        moved = ImageStat.Stat(ImageChops.difference(frames[0], frames[-1])).mean[0]
        assert moved > 1  # the picture moves: a pan or a zoom
        await assert_charged_once(runtime, USER)
        assert evolink.requests == []
