"""Health, readiness and metrics of the running bot, after real jobs went through it."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import options_message_id, press, send_photo_and_get_options


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def run_job(tg: FakeBotApi, evolink: EvolinkFake, *, fail: bool) -> None:
    _, options = await send_photo_and_get_options(tg, USER, "metrics")
    msg_id = options_message_id(tg, USER, options)
    await press(tg, USER, USER, msg_id, "Generate")
    task = (
        await evolink.wait_task(len(evolink.tasks) + 1 if False else 1)
        if not evolink.tasks
        else None
    )
    del task
    created = await evolink.wait_for(
        lambda: next((t for t in evolink.tasks.values() if t.status == "pending"), None)
    )
    if fail:
        evolink.fail(created.id, "content_policy_violation", "no")
        await tg.wait_until(
            lambda: any("content rules" in c.params.get("text", "").lower()
                        for c in tg.calls_of("sendMessage"))
        )  # fmt: skip
    else:
        evolink.succeed(created.id)
        await tg.wait_call("sendVideo", timeout=20)
        await tg.wait_until(lambda: "Done" in (tg.message(USER, msg_id) or {}).get("text", ""))


async def test_metrics_count_real_jobs_callbacks_credits_and_provider_calls(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot(METRICS_TOKEN="scrape-me") as runtime:
        base = f"http://127.0.0.1:{runtime.port}"
        await run_job(tg, evolink, fail=False)
        await run_job(tg, evolink, fail=True)
        await evolink.idle()
        async with httpx.AsyncClient() as client:
            health = await client.get(f"{base}/healthz")
            ready = await client.get(f"{base}/readyz")
            refused = await client.get(f"{base}/metrics")
            scraped = await client.get(
                f"{base}/metrics", headers={"Authorization": "Bearer scrape-me"}
            )
    assert health.status_code == 200
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert refused.status_code == 401
    found = samples(scraped.text)
    finished = "p2v_jobs_finished_total"
    assert value(found, finished, model="grok", provider="evolink", state="delivered") == 1
    assert value(found, finished, model="grok", provider="evolink", state="failed") == 1
    assert value(found, "p2v_credits_spent_total") == 2
    assert value(found, "p2v_credits_refunded_total") == 1
    assert value(found, "p2v_callbacks_total", outcome="ok") >= 2
    assert value(found, "p2v_provider_request_seconds_count", provider="evolink",
                 operation="submit") == 2  # fmt: skip
    assert value(found, "p2v_delivery_bytes_total") > 0
    assert value(found, "p2v_jobs_in_flight") == 0
