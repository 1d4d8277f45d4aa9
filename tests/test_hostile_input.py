"""Hostile text from users: captions that used to freeze the bot, odd ids, edited commands."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from bot.runtime import BotRuntime
from bot.telegram.delivery import MAX_DELIVERY_CLAIMS
from bot.testing.bot_api import FakeBotApi
from bot.testing.bot_api.html import parse_html
from bot.testing.providers.evolink import EvolinkFake
from bot.texts import raw
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import options_message_id, press, send_photo_and_get_options
from tests.provider_e2e_helpers import ledger, only_job, provider_env

ADMIN = 900_001


async def test_a_caption_of_ampersands_is_delivered_and_fits(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    """900 '&' used to make the caption builder loop forever (the whole bot froze)."""
    prompt = "&" * 900
    async with start_bot():
        _, options = await send_photo_and_get_options(tg, USER, prompt)
        await press(tg, USER, USER, options_message_id(tg, USER, options), "Generate")
        task = await evolink.wait_task()
        evolink.succeed(task.id)
        video = await tg.wait_call("sendVideo", timeout=20)
        assert video.status == 200
        plain, _ = parse_html(video.params["caption"])
        assert len(plain) <= 1024
        assert plain.startswith("🎬 &&&")


async def _reply_to(tg: FakeBotApi, chat_id: int, command: str, args: str) -> str:
    """Send a command and return the bot's next message in that chat (updates run concurrently,
    so commands are sent one at a time)."""
    before = len(tg.calls_of("sendMessage"))
    tg.user_command(chat_id, chat_id, command, args)
    call = await tg.wait_call(
        "sendMessage",
        lambda c: tg.calls_of("sendMessage").index(c) >= before and c.params["chat_id"] == chat_id,
    )
    assert call.status == 200
    return str(call.params["text"])


async def test_odd_resend_ids_get_the_usage_or_not_found(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot():
        superscript = await _reply_to(tg, USER, "resend", "²")
        huge = await _reply_to(tg, USER, "resend", "9" * 20)
        arabic = await _reply_to(tg, USER, "resend", "٣")
        unknown = await _reply_to(tg, USER, "resend", "#12345")
    for text in (superscript, huge, arabic):
        assert text.startswith(raw("en", "resend_usage")), text
    assert "12345" in unknown and "wrong" not in unknown.lower()


async def test_forged_callback_data_with_odd_ids_is_answered_as_stale(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot():
        _, options = await send_photo_and_get_options(tg, USER, "waves")
        msg_id = options_message_id(tg, USER, options)
        for data in ("g|²", "g|" + "9" * 20, "g|0", "g|-1", "g|1|x|y|z"):
            query = tg.user_click(USER, USER, msg_id, data, force=True)
            await tg.wait_until(lambda q=query: q in tg.answered_callbacks)  # type: ignore[misc]
    answers = [c for c in tg.calls_of("answerCallbackQuery") if c.status == 200]
    assert len(answers) == 5
    assert all("expired" in str(c.params.get("text")) for c in answers)


async def test_an_edited_grant_never_runs_again(tg: FakeBotApi, start_bot: BotFactory) -> None:
    async with start_bot(ADMIN_USER_IDS=str(ADMIN)) as runtime:
        assert "Granted 7" in await _reply_to(tg, ADMIN, "grant", f"{USER} 7")
        sent = tg.world.get_message(ADMIN, max(tg.world.messages[ADMIN]) - 1)
        assert sent is not None and sent["text"].startswith("/grant")
        for n in (1, 2):
            edited = {**sent, "text": f"/grant {USER} 7", "edit_date": int(time.time()) + n}
            tg.push_update({"edited_message": edited})
        await tg.wait_until(lambda: not tg.pending_updates)
        ledger = _ledger(runtime)
        await runtime.app.stop()  # type: ignore[union-attr]  # waits for every fetched update
        rows = await ledger.rows(USER)
    assert [r["kind"] for r in rows if r["kind"] == "grant"] == ["grant"]
    granted = [c for c in tg.calls_of("sendMessage") if "Granted" in str(c.params.get("text"))]
    assert len(granted) == 1


def _ledger(runtime: BotRuntime):  # type: ignore[no-untyped-def]
    assert runtime.ctx is not None
    return runtime.ctx.ledger


class _HugeEstimate(EvolinkFake):
    """A provider that claims a task will take a billion seconds (or infinitely long)."""

    estimate: float = 1e9

    def _render(self, task: Any, *, with_usage: bool) -> dict[str, Any]:
        out = super()._render(task, with_usage=with_usage)
        if "estimated_time" in out["task_info"]:
            out["task_info"]["estimated_time"] = self.estimate
        return out


@pytest.mark.parametrize("estimate", [1e9, 1e30, float("inf")])
async def test_a_provider_estimate_cannot_push_the_deadline_out(
    tg: FakeBotApi, start_bot: BotFactory, estimate: float
) -> None:
    async with (
        _HugeEstimate(loopback_callbacks=True) as fake,
        start_bot(**provider_env(fake)) as runtime,
    ):
        fake.estimate = estimate
        _, options = await send_photo_and_get_options(tg, USER, "waves")
        status_id = options_message_id(tg, USER, options)
        await press(tg, USER, USER, status_id, "Generate")
        await fake.wait_task()
        await tg.wait_until(lambda: "Generating" in str(tg.message(USER, status_id) or {}))
        job = await only_job(runtime, USER)
    assert job.deadline_at is not None and job.submitted_at is not None
    assert job.deadline_at - job.submitted_at <= 3 * 3600


async def test_no_job_secret_reaches_the_logs_even_at_debug(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with start_bot(LOG_LEVEL="DEBUG") as runtime:
        _, options = await send_photo_and_get_options(tg, USER, "waves")
        await press(tg, USER, USER, options_message_id(tg, USER, options), "Generate")
        task = await evolink.wait_task()
        job = await only_job(runtime, USER)
        evolink.succeed(task.id)
        await tg.wait_call("sendVideo", timeout=20)
    secrets = [job.callback_secret, task.body["image_urls"][0].rsplit("/", 1)[1]]
    assert all(len(s) >= 16 for s in secrets)
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    for record in caplog.records:
        text = record.getMessage()
        assert not any(s in text for s in secrets), f"{record.name}: {text[:160]}"


async def test_a_delivery_that_never_finishes_is_given_up_with_a_refund(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    """Each life hangs in the delivery before sending (as the 900 '&' caption did; here the
    result download never answers) and is restarted: the job is not delivered again and again
    until its deadline, it fails and the user gets the credit back."""
    evolink.inject("timeout", "download", times=MAX_DELIVERY_CLAIMS)

    def downloads() -> int:
        return len(evolink.requests_to("download"))

    async with start_bot():
        _, options = await send_photo_and_get_options(tg, USER, "waves")
        await press(tg, USER, USER, options_message_id(tg, USER, options), "Generate")
        evolink.succeed((await evolink.wait_task()).id)
        await evolink.wait_for(lambda: downloads() == 1 or None, 20)
    for life in range(2, MAX_DELIVERY_CLAIMS + 1):
        async with start_bot():
            await evolink.wait_for(lambda n=life: downloads() == n or None, 20)  # type: ignore[misc]
    async with start_bot() as runtime:
        await tg.wait_call(
            "sendMessage", lambda c: "Failed" in str(c.params.get("text")), timeout=20
        )
        job = await only_job(runtime, USER)
        kinds = [k for k, _ in await ledger(runtime, USER)]
    assert downloads() == MAX_DELIVERY_CLAIMS and not tg.calls_of("sendVideo")
    assert job.status.value == "failed" and kinds == ["allowance", "reserve", "refund"]
