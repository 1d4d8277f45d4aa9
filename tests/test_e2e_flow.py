"""The whole flow against the fakes: photo → options → Generate → evolink → video reply."""

from __future__ import annotations

from bot.runtime import BotRuntime
from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from tests.conftest import TOKEN, USER, BotFactory
from tests.e2e_helpers import options_message_id, press, send_photo_and_get_options
from tests.idle_barrier import wait_idle


async def ledger_kinds(runtime: BotRuntime, user: int) -> list[str]:
    assert runtime.ctx is not None
    return [str(r["kind"]) for r in await runtime.ctx.ledger.rows(user)]


async def test_happy_path_polling_mode(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        photo, options = await send_photo_and_get_options(tg, USER, "a cat <b>turns</b> its head")
        assert options.params["reply_parameters"]["message_id"] == photo["message_id"]
        msg_id = options_message_id(tg, USER, options)
        await press(tg, USER, USER, msg_id, "10 s")
        edited = await tg.wait_call("editMessageText", lambda c: c.params["message_id"] == msg_id)
        assert "✅ 10 s" in str(edited.params["reply_markup"])
        await press(tg, USER, USER, msg_id, "Generate")

        create = await evolink.wait_request("/v1/videos/generations")
        body = create.json
        assert body["model"] == "grok-imagine-image-to-video"
        assert body["duration"] == 10 and body["mode"] == "normal" and body["quality"] == "480p"
        assert body["prompt"] == "a cat <b>turns</b> its head"
        assert body["image_urls"][0].startswith(f"http://127.0.0.1:{runtime.port}/media/")
        assert "/callbacks/evolink/" in body["callback_url"]
        task = await evolink.wait_task()
        check = evolink.image_checks[-1]
        assert check.ok and check.content_type == "image/jpeg"
        evolink.succeed(task.id)
        video = await tg.wait_call("sendVideo", timeout=20)
        assert video.params["reply_parameters"]["message_id"] == photo["message_id"]
        assert video.params["supports_streaming"] is True
        assert video.params["width"] > 0 and video.params["height"] > 0
        assert "a cat &lt;b&gt;turns&lt;/b&gt; its head" in video.params["caption"]
        assert len(video.params["caption"]) <= 1024
        assert "video" in video.files
        # the status message ends as "Done"
        await tg.wait_until(lambda: "Done" in (tg.message(USER, msg_id) or {}).get("text", ""))
        assert await ledger_kinds(runtime, USER) == ["allowance", "reserve", "settle"]
        for recorded in evolink.requests:
            assert TOKEN not in recorded.path + recorded.text + str(recorded.headers)


async def generate_job(
    tg: FakeBotApi, user: int = USER, caption: str = "waves"
) -> tuple[int, int]:
    """Photo + Generate with default options; returns (photo message id, status message id)."""
    photo, options = await send_photo_and_get_options(tg, user, caption)
    msg_id = options_message_id(tg, user, options)
    await press(tg, user, user, msg_id, "Generate")
    return photo["message_id"], msg_id


async def test_happy_path_webhook_mode(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory, env: dict[str, str]
) -> None:
    url = f"{env['PUBLIC_BASE_URL']}/telegram/webhook"
    tg.local_mode = True  # plain http:// on a test port: a local Bot API server delivers there
    async with start_bot(
        TELEGRAM_WEBHOOK_URL=url,
        TELEGRAM_WEBHOOK_SECRET="s3cret_value-1",
        TELEGRAM_LOCAL_MODE="true",
    ):
        assert (tg.webhook_url or "").startswith(url + "/")
        assert tg.webhook_secret == "s3cret_value-1"
        assert tg.calls_of("getUpdates") == []
        photo_id, _ = await generate_job(tg)
        task = await evolink.wait_task()
        evolink.succeed(task.id)
        video = await tg.wait_call("sendVideo", timeout=20)
        assert video.params["reply_parameters"]["message_id"] == photo_id
        assert all(status == 200 for _, status in tg.webhook_deliveries)


async def test_duplicate_callbacks_deliver_once(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    evolink.duplicate_callbacks = 3
    async with start_bot() as runtime:
        await generate_job(tg)
        task = await evolink.wait_task()
        evolink.succeed(task.id)
        await tg.wait_call("sendVideo", timeout=20)
        await evolink.wait_callback_attempts(4)
        await wait_idle(tg, runtime, evolink)  # every wake-up the duplicates caused has run
        assert runtime.ctx is not None
        jobs = await runtime.ctx.store.recent_for_user(USER)
        assert [j.status.value for j in jobs] == ["delivered"]
        assert len(tg.calls_of("sendVideo")) == 1
        assert await ledger_kinds(runtime, USER) == ["allowance", "reserve", "settle"]


async def test_forged_callbacks_get_404_and_change_nothing(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    import httpx

    async with start_bot() as runtime:
        await generate_job(tg)
        task = await evolink.wait_task()
        assert runtime.ctx is not None
        job = (await runtime.ctx.store.recent_for_user(USER))[0]
        base = f"http://127.0.0.1:{runtime.port}/callbacks/evolink"
        body = {"id": task.id, "status": "completed", "results": ["https://evil.example/x.mp4"]}
        async with httpx.AsyncClient() as client:
            wrong_secret = await client.post(f"{base}/{job.id}-{'A' * 32}", json=body)
            unknown_job = await client.post(f"{base}/999999-{job.callback_secret}", json=body)
            no_secret = await client.post(f"{base}/{job.id}", json=body)
            wrong_provider = await client.post(
                f"http://127.0.0.1:{runtime.port}/callbacks/foxapi/{job.id}-{job.callback_secret}",
                json=body,
            )
        assert [r.status_code for r in (wrong_secret, unknown_job, no_secret, wrong_provider)] == [
            404, 404, 404, 404,
        ]  # fmt: skip
        await wait_idle(tg, runtime, evolink)  # a wake-up would run in a spawned task
        after = await runtime.ctx.store.get(job.id)
        assert after is not None and after.status.value == "submitted"
        assert tg.calls_of("sendVideo") == []
        queries = [r for r in evolink.requests if r.route == "query"]
        assert queries == []  # a forged callback does not even wake the job


async def test_provider_failure_tells_the_user_and_refunds(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        photo_id, _ = await generate_job(tg)
        task = await evolink.wait_task()
        evolink.fail(task.id, "content_policy_violation", "Content policy violation.")
        failed = await tg.wait_call(
            "sendMessage", lambda c: "content rules" in c.params.get("text", "").lower()
        )
        assert failed.params["reply_parameters"]["message_id"] == photo_id
        assert "refunded" in failed.params["text"]
        assert "New description" in str(failed.params.get("reply_markup"))
        assert await ledger_kinds(runtime, USER) == ["allowance", "reserve", "refund"]
        assert runtime.ctx is not None
        assert (await runtime.ctx.ledger.balance(USER)).total == 5


async def test_quota_exhausted_is_refused_before_any_provider_request(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot(DAILY_QUOTA="0") as runtime:
        _, options = await send_photo_and_get_options(tg, USER, "waves")
        msg_id = options_message_id(tg, USER, options)
        query_id = await press(tg, USER, USER, msg_id, "Generate")
        answer = await tg.wait_call(
            "answerCallbackQuery", lambda c: c.params["callback_query_id"] == query_id
        )
        assert "not enough credits" in answer.params["text"].lower()
        assert answer.params.get("show_alert") is True
        # the refusal also stays in the chat, in the same options message (no new message)
        await tg.wait_until(
            lambda: "Not enough credits" in (tg.message(USER, msg_id) or {}).get("text", "")
        )
        await wait_idle(tg, runtime, evolink)  # nothing more comes later
        assert "Generate" in str((tg.message(USER, msg_id) or {}).get("reply_markup"))
        assert len(tg.calls_of("sendMessage")) == 1  # only the options message itself
        assert evolink.requests_to("create") == []
