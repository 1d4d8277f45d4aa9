"""Cancel at every stage of a job, against the real bot, the fake Telegram and the fake evolink.

Each test asserts three sides: what Telegram received (answers, edits, messages, videos), what
evolink received (creates, queries, downloads) and what the database holds (job state, ledger).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.media.render import RenderCancelled, RenderResult
from bot.models import ErrorKind, JobStatus, TaskState
from bot.providers.local import LocalProvider
from bot.telegram import keyboards
from bot.testing.bot_api import FakeBotApi
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import press
from tests.idle_barrier import wait_idle
from tests.lifecycle_support import (
    HeldEvolink,
    answer_of,
    balance_total,
    finish_background,
    generate,
    hold_bot_method,
    job_by_message,
    jobs_of,
    kinds,
    late_callback_is_ignored,
    markup_of,
    open_options,
    running_held_evolink,
    text_of,
    wait_text,
)

S = JobStatus


@pytest.fixture(name="evolink")
async def _evolink() -> AsyncIterator[HeldEvolink]:
    async with running_held_evolink() as fake:
        yield fake


async def test_cancel_on_the_options_message_is_free(
    tg: FakeBotApi, evolink: HeldEvolink, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        _, msg_id = await open_options(tg)
        query = await press(tg, USER, USER, msg_id, "Cancel")
        assert (await answer_of(tg, query)).params["text"] == "Cancelled."
        text = await wait_text(tg, msg_id, "Cancelled.")
        assert "refunded" not in text
        await tg.wait_until(lambda: markup_of(tg, msg_id) == "")  # no buttons left

        job = await job_by_message(runtime, msg_id)
        assert job.status is S.CANCELLED and job.price == 0
        # Showing the balance recorded today's allowance; nothing was reserved or refunded.
        assert await kinds(runtime) == ["allowance"]
        assert await balance_total(runtime) == 5

        # A stale Generate (an old client still showing the keyboard) does nothing.
        stale = tg.user_click(USER, USER, msg_id, keyboards.encode("g", job.id), force=True)
        assert "expired" in (await answer_of(tg, stale)).params["text"]
        assert (await job_by_message(runtime, msg_id)).status is S.CANCELLED
        assert await kinds(runtime) == ["allowance"]
    assert evolink.requests_to("create") == []


async def test_cancel_while_the_create_request_is_in_flight_refunds_and_ignores_the_task(
    tg: FakeBotApi, evolink: HeldEvolink, start_bot: BotFactory
) -> None:
    create = evolink.hold("create")
    async with start_bot() as runtime:
        _, msg_id = await generate(tg)
        await create.wait_parked()  # the provider has the request; the bot awaits its answer
        job = await job_by_message(runtime, msg_id)
        assert job.status is S.SUBMITTING and job.task_id is None
        assert "Queued" in text_of(tg, msg_id) and "Cancel" in markup_of(tg, msg_id)
        assert await kinds(runtime) == ["allowance", "reserve"]

        query = await press(tg, USER, USER, msg_id, "Cancel")
        assert (await answer_of(tg, query)).params["text"] == "Cancelled."
        text = await wait_text(tg, msg_id, "Cancelled.")
        assert "1 credit refunded" in text
        assert (await job_by_message(runtime, msg_id)).status is S.CANCELLED
        assert await kinds(runtime) == ["allowance", "reserve", "refund"]
        assert await balance_total(runtime) == 5

        # The provider answers late: the task it made must not revive the job.
        create.release()
        task = await evolink.wait_task()
        await finish_background(runtime, f"submit-{job.id}")
        after = await job_by_message(runtime, msg_id)
        assert after.status is S.CANCELLED and after.task_id is None
        await late_callback_is_ignored(runtime, tg, evolink, task.id, job.id)
        assert evolink.requests_to("query") == []
        assert "Cancelled." in text_of(tg, msg_id)


@pytest.mark.parametrize(
    ("refund_on_cancel", "ledger_kinds", "balance"),
    [
        ("true", ["allowance", "reserve", "refund"], 5),
        ("false", ["allowance", "reserve"], 4),
    ],
    ids=["refund-on-cancel", "no-refund-on-cancel"],
)
async def test_cancel_after_submission(
    tg: FakeBotApi,
    evolink: HeldEvolink,
    start_bot: BotFactory,
    refund_on_cancel: str,
    ledger_kinds: list[str],
    balance: int,
) -> None:
    async with start_bot(REFUND_ON_CANCEL=refund_on_cancel) as runtime:
        _, msg_id = await generate(tg)
        task = await evolink.wait_task()
        await wait_text(tg, msg_id, "Generating")
        job = await job_by_message(runtime, msg_id)
        assert job.status is S.SUBMITTED and job.task_id == task.id

        query = await press(tg, USER, USER, msg_id, "Cancel")
        assert (await answer_of(tg, query)).params["text"] == "Cancelled."
        text = await wait_text(tg, msg_id, "Cancelled.")
        assert ("refunded" in text) is (refund_on_cancel == "true")
        assert markup_of(tg, msg_id) == ""
        assert (await job_by_message(runtime, msg_id)).status is S.CANCELLED
        assert await kinds(runtime) == ledger_kinds
        assert await balance_total(runtime) == balance

        await late_callback_is_ignored(runtime, tg, evolink, task.id, job.id)
        assert (await job_by_message(runtime, msg_id)).status is S.CANCELLED
        assert await balance_total(runtime) == balance
    assert len(evolink.requests_to("create")) == 1


@pytest.mark.parametrize("stage", ["downloading", "sending"])
async def test_cancel_during_delivery_is_too_late(
    tg: FakeBotApi, evolink: HeldEvolink, start_bot: BotFactory, stage: str
) -> None:
    hold = evolink.hold("download") if stage == "downloading" else hold_bot_method(tg, "sendVideo")
    try:
        async with start_bot() as runtime:
            photo_id, msg_id = await generate(tg)
            task = await evolink.wait_task()
            evolink.succeed(task.id)
            await hold.wait_parked()
            job = await job_by_message(runtime, msg_id)
            assert job.status is S(stage)
            # the keyboard goes with the "Downloading"/"Sending" edit (paced, so wait for it)
            await tg.wait_until(lambda: "Cancel" not in markup_of(tg, msg_id))

            # A client that still shows the old Cancel button presses it.
            query = tg.user_click(USER, USER, msg_id, keyboards.encode("x", job.id), force=True)
            answer = await answer_of(tg, query)
            assert answer.params["text"] == "The video is already being delivered."
            assert answer.params.get("show_alert") is True
            assert (await job_by_message(runtime, msg_id)).status is S(stage)
            assert await kinds(runtime) == ["allowance", "reserve"]

            hold.release()
            video = await tg.wait_call("sendVideo", lambda c: c.status == 200, timeout=20)
            assert video.params["reply_parameters"]["message_id"] == photo_id
            await wait_text(tg, msg_id, "Done")
            assert (await job_by_message(runtime, msg_id)).status is S.DELIVERED
            assert await kinds(runtime) == ["allowance", "reserve", "settle"]
            assert await balance_total(runtime) == 4
            await wait_idle(tg, runtime, evolink)
            assert len(tg.calls_of("sendVideo")) == 1
    finally:
        hold.release()


RenderFn = Callable[..., RenderResult]


def render_until_cancelled(
    loop: asyncio.AbstractEventLoop, started: asyncio.Event, stopped: asyncio.Event
) -> RenderFn:
    """A stand-in for `render_pan_zoom` that runs until the provider tells it to stop."""

    def render(
        image_path: Path,
        out_path: Path,
        *,
        duration_s: int,
        fps: int = 24,
        max_side: int = 720,
        cancel: threading.Event | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> RenderResult:
        assert cancel is not None
        loop.call_soon_threadsafe(started.set)
        if not cancel.wait(timeout=30):
            raise AssertionError("the render was never cancelled")
        loop.call_soon_threadsafe(stopped.set)
        raise RenderCancelled

    return render


async def test_cancel_stops_a_local_render_and_refunds(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot(EVOLINK_API_KEY="") as runtime:
        assert runtime.ctx is not None
        provider = runtime.ctx.registry.get("local")
        assert isinstance(provider, LocalProvider)
        started, stopped = asyncio.Event(), asyncio.Event()
        provider._render = render_until_cancelled(asyncio.get_running_loop(), started, stopped)

        _, msg_id = await generate(tg)
        async with asyncio.timeout(10):
            await started.wait()
        await wait_text(tg, msg_id, "Generating")
        job = await job_by_message(runtime, msg_id)
        assert job.status is S.SUBMITTED and job.provider == "local" and job.task_id

        query = await press(tg, USER, USER, msg_id, "Cancel")
        assert (await answer_of(tg, query)).params["text"] == "Cancelled."
        async with asyncio.timeout(10):
            await stopped.wait()  # the render itself was told to stop, not just forgotten
        await wait_text(tg, msg_id, "Cancelled.")
        assert (await jobs_of(runtime))[0].status is S.CANCELLED
        assert await kinds(runtime) == ["allowance", "reserve", "refund"]
        assert await balance_total(runtime) == 5
    # Stopping the bot awaited the render's task and its wake-up: nothing was delivered.
    assert tg.calls_of("sendVideo") == []
    assert job.task_id is not None
    event = await provider.query(job.task_id)
    assert event.state is TaskState.FAILED and event.error_kind is ErrorKind.CANCELLED
