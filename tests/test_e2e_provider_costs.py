"""Issue 11, "What each job costs": the provider's reported cost is kept on the job, /stats shows
it per model and provider and per delivered video next to the credits charged, a Prometheus
counter adds it up per provider, and apikley's balance endpoint feeds a one-off low-balance
alert and /readyz."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers import AimlapiFake, ApikleyFake, EvolinkFake
from tests.conftest import USER, BotFactory
from tests.provider_e2e_helpers import (
    ADMIN,
    TIME_SCALE,
    only_job,
    provider_env,
    start_job,
    wait_idle,
    wait_status_text,
    wait_video,
)


def counter(runtime: object, provider: str) -> float | None:
    text = runtime.metrics.exposition().decode()  # type: ignore[attr-defined]
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "p2v_provider_cost_total" and s.labels == {"provider": provider}:
                return float(s.value)
    return None


async def admin_stats(tg: FakeBotApi) -> str:
    seen = len(tg.calls)
    tg.user_text(ADMIN, ADMIN, "/stats")
    call = await tg.wait_call(
        "sendMessage",
        lambda c: c.params.get("chat_id") == ADMIN and tg.calls.index(c) >= seen,
    )
    return str(call.params["text"])


async def test_evolink_usage_is_recorded_shown_in_stats_and_counted(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with (
        EvolinkFake(time_scale=TIME_SCALE, loopback_callbacks=True) as evolink,
        start_bot(**provider_env(evolink, ADMIN_USER_IDS=str(ADMIN))) as runtime,
    ):
        started = await start_job(tg, USER, picks=["10 s"])
        task = await evolink.wait_task()
        reserved = evolink._usage(task)["credits_reserved"]  # what the create answer reported
        evolink.succeed(task.id)
        await wait_video(tg, started)
        await wait_status_text(tg, started, "Done")
        await wait_idle(runtime)
        job = await only_job(runtime, USER)
        assert job.provider_cost == reserved
        assert counter(runtime, "evolink") == reserved
        text = await admin_stats(tg)
        assert (
            f"Grok Imagine via evolink: 1 job(s), 1 delivered, provider cost {reserved:g} "
            f"({reserved:g} per video), credits charged 2"
        ) in text


async def test_aimlapi_credits_used_are_the_final_cost(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with (
        AimlapiFake(time_scale=TIME_SCALE) as aimlapi,
        start_bot(**provider_env(aimlapi)) as runtime,
    ):
        started = await start_job(tg, USER)
        task = await aimlapi.wait_task()
        aimlapi.succeed(task.id)
        await wait_video(tg, started)
        await wait_idle(runtime)
        used = aimlapi.render_task(task)["meta"]["usage"]["credits_used"]
        assert (await only_job(runtime, USER)).provider_cost == used
        assert counter(runtime, "aimlapi") == used


async def test_apikley_low_balance_alerts_the_admins_once_and_readyz_reports_it(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with ApikleyFake(time_scale=TIME_SCALE, balance=42) as apikley:
        env = provider_env(apikley, ADMIN_USER_IDS=str(ADMIN), PROVIDER_LOW_BALANCE="100")
        async with start_bot(**env) as runtime:
            assert runtime.balances is not None
            await runtime.balances.check_once()
            await runtime.balances.check_once()  # the same incident: no second alert
            async with httpx.AsyncClient(trust_env=False) as http:
                ready = (await http.get(f"http://127.0.0.1:{runtime.port}/readyz")).json()
            assert ready["ready"] is True and ready["balances"] == {"apikley": 42}
            alerts = [
                c.params["text"]
                for c in tg.calls_of("sendMessage")
                if c.params["chat_id"] == ADMIN and "Operator alert" in c.params["text"]
            ]
            assert len(alerts) == 1 and "balance 42 is below 100" in alerts[0]
            assert apikley.requests_to("credit")
