"""apikley (kie.ai jobs API) end to end: the createTask body, callbacks in every documented
shape (short, full kie record, HMAC-signed), a bad signature refused, polling with each
`resultJson` shape, and errors carried in the body with HTTP 200.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers import ApikleyFake, webhook_signature
from bot.testing.providers._records import FakeTask
from tests.conftest import USER, BotFactory
from tests.idle_barrier import wait_idle
from tests.provider_e2e_helpers import (
    ADMIN,
    TIME_SCALE,
    assert_charged_once,
    assert_refunded,
    callback_url,
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

HMAC_KEY = "right_secret"  # listed in conftest.SECRETS: it must never reach a log line


@pytest.fixture(name="waits", autouse=True)
def _waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    return record_waits(monkeypatch)


class ObjectResultApikley(ApikleyFake):
    """A kie mirror whose record carries `resultJson` as an object instead of a JSON string."""

    def _kie_record(self, task: FakeTask) -> dict[str, Any]:
        record = super()._kie_record(task)
        if isinstance(record["resultJson"], str) and record["resultJson"]:
            record["resultJson"] = json.loads(record["resultJson"])
        return record


async def test_create_body_and_the_short_callback(tg: FakeBotApi, start_bot: BotFactory) -> None:
    async with (
        ApikleyFake(time_scale=TIME_SCALE) as apikley,
        start_bot(**provider_env(apikley)) as runtime,
    ):
        photo_id, options_id = await open_options(tg, USER, "the dog jumps")
        # one model, one row: spicy is refused for external images, so it is not offered
        offered = labels((tg.message(USER, options_id) or {}).get("reply_markup"))
        assert offered[:2] == ["Fun", "Normal"]
        assert "Spicy" not in offered and "10 s" not in offered and "720p" not in offered
        started = await generate_on(tg, USER, photo_id, options_id, ["Fun"])
        task = await apikley.wait_task()
        job = await only_job(runtime, USER)
        assert task.body == {
            "model": "grok-imagine/image-to-video",
            "callBackUrl": callback_url(runtime, "apikley", job),
            "input": {
                "image_urls": [task.body["input"]["image_urls"][0]],
                "prompt": "the dog jumps",
                "mode": "fun",
            },
        }
        assert task.body["input"]["image_urls"][0].startswith(media_prefix(runtime))
        assert task.image_checks[0].ok and task.image_checks[0].format == "JPEG"
        await wait_status_text(tg, started, "Generating")
        assert apikley.requests_to("query") == []
        apikley.succeed(task.id)
        await wait_video(tg, started)
        attempts = await apikley.wait_callback_attempts(1)
        assert attempts[0].outcome == 200
        assert json.loads(attempts[0].body) == {
            "code": 200,
            "msg": "Playground task completed successfully.",
            "data": {"taskId": task.id},
        }
        query = apikley.requests_to("query")[0]
        assert query.query == {"taskId": task.id}
        await wait_status_text(tg, started, "Done")
        await assert_charged_once(runtime, USER)


async def test_full_kie_callback_body_completes_the_job(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with (
        ApikleyFake(time_scale=TIME_SCALE, full_callback=True) as apikley,
        start_bot(**provider_env(apikley)) as runtime,
    ):
        started = await start_job(tg, USER)
        task = await apikley.wait_task()
        apikley.succeed(task.id)
        await wait_video(tg, started)
        attempts = await apikley.wait_callback_attempts(1)
        assert attempts[0].outcome == 200
        assert json.loads(attempts[0].body)["data"]["state"] == "success"
        await wait_status_text(tg, started, "Done")
        await assert_charged_once(runtime, USER)


async def test_hmac_signed_callback_is_accepted(tg: FakeBotApi, start_bot: BotFactory) -> None:
    async with (
        ApikleyFake(time_scale=TIME_SCALE, hmac_key=HMAC_KEY) as apikley,
        start_bot(**provider_env(apikley, APIKLEY_WEBHOOK_HMAC_KEY=HMAC_KEY)) as runtime,
    ):
        started = await start_job(tg, USER)
        task = await apikley.wait_task()
        apikley.succeed(task.id)
        await wait_video(tg, started)
        attempts = await apikley.wait_callback_attempts(1)
        assert attempts[0].outcome == 200
        assert "X-Webhook-Signature" in attempts[0].headers
        await wait_status_text(tg, started, "Done")
        await assert_charged_once(runtime, USER)


async def test_bad_signatures_get_a_4xx_and_change_nothing(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    # The fake signs with another key than the bot's: every callback it sends is forged.
    async with (
        ApikleyFake(time_scale=TIME_SCALE, hmac_key="another-key") as apikley,
        start_bot(**provider_env(apikley, APIKLEY_WEBHOOK_HMAC_KEY=HMAC_KEY)) as runtime,
    ):
        started = await start_job(tg, USER)
        task = await apikley.wait_task()
        await wait_status_text(tg, started, "Generating")
        job = await only_job(runtime, USER)
        apikley.succeed(task.id)
        attempts = await apikley.wait_callback_attempts(1)
        assert attempts[0].outcome == 400
        url = callback_url(runtime, "apikley", job)
        body = {"code": 200, "msg": "ok", "data": {"taskId": task.id}}
        now = str(int(time.time()))
        stale = str(int(time.time()) - 3600)
        async with httpx.AsyncClient() as client:
            answers = [
                await client.post(url, json=body),  # unsigned
                await client.post(
                    url,
                    json=body,
                    headers={"X-Webhook-Timestamp": now, "X-Webhook-Signature": "AAAA"},
                ),
                await client.post(  # a true signature, an hour old
                    url,
                    json=body,
                    headers={
                        "X-Webhook-Timestamp": stale,
                        "X-Webhook-Signature": webhook_signature(HMAC_KEY, task.id, stale),
                    },
                ),
            ]
        assert [a.status_code for a in answers] == [400, 400, 400]
        # nothing moved: no query, no video, the job still waits, no credit touched
        assert apikley.requests_to("query") == []
        assert tg.calls_of("sendVideo") == []
        assert (await only_job(runtime, USER)).status.value == "submitted"
        assert [k for k, _ in await ledger(runtime, USER)] == ["allowance", "reserve"]
        # the genuine signature still works
        async with httpx.AsyncClient() as client:
            good = await client.post(
                url,
                json=body,
                headers={
                    "X-Webhook-Timestamp": now,
                    "X-Webhook-Signature": webhook_signature(HMAC_KEY, task.id, now),
                },
            )
        assert good.status_code == 200
        await wait_video(tg, started)
        await wait_status_text(tg, started, "Done")
        await assert_charged_once(runtime, USER)


@pytest.mark.parametrize(
    ("shape", "delivered"),
    [
        pytest.param("urls", True, id="json-string"),
        pytest.param("object", True, id="object"),
        pytest.param("", False, id="empty-string"),
        pytest.param("null", False, id="null"),
    ],
)
async def test_polling_reads_every_result_json_shape(
    tg: FakeBotApi, start_bot: BotFactory, shape: str, delivered: bool
) -> None:
    cls = ObjectResultApikley if shape == "object" else ApikleyFake
    apikley = cls(time_scale=TIME_SCALE)
    if shape in ("", "null"):
        apikley.success_result_json = "" if shape == "" else "null"
    async with apikley:
        apikley.inject("drop", "callback")  # the callback is lost: only polling can tell
        env = provider_env(apikley, CALLBACK_GRACE_S="0")
        async with start_bot(**env) as runtime:
            started = await start_job(tg, USER)
            task = await apikley.wait_task()
            await apikley.wait_request("/api/v1/jobs/recordInfo")  # polling has begun
            apikley.succeed(task.id)
            if delivered:
                await wait_video(tg, started)
                await wait_status_text(tg, started, "Done")
                await assert_charged_once(runtime, USER)
            else:
                # success without any result URL: a clean failure, never a crash or a hang
                failed = await wait_failure_message(tg, started, "had a problem")
                assert "refunded" in failed.params["text"]
                await assert_refunded(runtime, USER)
                assert tg.calls_of("sendVideo") == []
            assert [a.outcome for a in apikley.callback_attempts] == ["dropped"]
            assert raw_words_seen(tg, USER) == []


async def test_errors_in_the_body_with_http_200(
    tg: FakeBotApi, start_bot: BotFactory, waits: list[float]
) -> None:
    """kie answers `{code, msg}`, maybe with HTTP 200: success is read from the body."""
    async with ApikleyFake(time_scale=TIME_SCALE, errors_in_body=True) as apikley:
        env = provider_env(apikley, ADMIN_USER_IDS=str(ADMIN))
        async with start_bot(**env) as runtime:
            tg.user_text(ADMIN, ADMIN, "/start")
            await tg.wait_call("sendMessage", lambda c: c.params["chat_id"] == ADMIN)
            apikley.inject("500", "create")  # 200 {"code":500}: retried once, then it works
            first = await start_job(tg, USER)
            task = await apikley.wait_task()
            apikley.succeed(task.id)
            await wait_video(tg, first)
            assert [r.route for r in apikley.requests if r.route == "create"] == ["create"] * 2
            assert len(waits) == 1
            apikley.inject("401", "create")  # 200 {"code":401}: the operator's problem
            second = await start_job(tg, USER)
            failed = await wait_failure_message(tg, second, "unavailable")
            assert "refunded" in failed.params["text"]
            alert = await tg.wait_call(
                "sendMessage",
                lambda c: c.params["chat_id"] == ADMIN and "Operator alert" in c.params["text"],
            )
            assert "auth" in alert.params["text"]
            assert raw_words_seen(tg, USER) == []
            assert len(apikley.requests_to("create")) == 3
            statuses = [j.status.value for j in await jobs_of(runtime, USER)]
            assert statuses == ["failed", "delivered"]


async def test_duplicate_callbacks_deliver_once(tg: FakeBotApi, start_bot: BotFactory) -> None:
    async with (
        ApikleyFake(time_scale=TIME_SCALE) as apikley,
        start_bot(**provider_env(apikley)) as runtime,
    ):
        apikley.duplicate_callbacks = 2
        started = await start_job(tg, USER)
        task = await apikley.wait_task()
        apikley.succeed(task.id)
        await wait_video(tg, started)
        await apikley.wait_callback_attempts(3)
        await wait_idle(tg, runtime, apikley)  # every wake-up the duplicates caused has run
        await wait_status_text(tg, started, "Done")
        assert [a.outcome for a in apikley.callback_attempts] == [200, 200, 200]
        assert len(tg.calls_of("sendVideo")) == 1
        await assert_charged_once(runtime, USER)
