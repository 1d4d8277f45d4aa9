"""An option press and Generate handled together: what is charged is what is submitted."""

from __future__ import annotations

from typing import Any

from bot.runtime import BotRuntime
from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import buttons
from tests.provider_e2e_helpers import choose, ledger, only_job, open_options


def _service(runtime: BotRuntime) -> Any:
    assert runtime.app is not None
    return runtime.services.jobs


async def test_generate_that_read_the_draft_before_an_option_press_charges_the_new_price(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    """The interleaving of the race, made deterministic: Generate read the draft (Grok, 6 s,
    1 credit), then presses made it HappyHorse 15 s (6 credits), then Generate reserves."""
    async with start_bot(DAILY_QUOTA="10") as runtime:
        _, options_id = await open_options(tg, USER, "the horse gallops")
        svc = _service(runtime)
        markup = (tg.message(USER, options_id) or {}).get("reply_markup")
        job_id = int(buttons(markup)[0]["callback_data"].split("|")[1])
        snapshot = await svc.job(job_id)
        assert svc.price(snapshot) == 1
        await choose(tg, USER, USER, options_id, "HappyHorse 1.0")
        await choose(tg, USER, USER, options_id, "15 s")
        reply = await svc.generate(snapshot)  # the press that read the draft first
        assert reply.then is not None
        await reply.then
        task = await evolink.wait_task()
        assert task.body["model"] == "happyhorse-1.0-image-to-video"
        assert task.body["duration"] == 15
        assert (await ledger(runtime, USER))[1] == ("reserve", -6)
        assert (await only_job(runtime, USER)).price == 6


async def test_option_press_and_generate_in_one_batch_charge_what_is_submitted(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot(DAILY_QUOTA="10") as runtime:
        _, options_id = await open_options(tg, USER, "the horse gallops")
        await choose(tg, USER, USER, options_id, "HappyHorse 1.0")
        markup = (tg.message(USER, options_id) or {}).get("reply_markup")
        data = {b["text"]: b["callback_data"] for b in buttons(markup)}
        pressed = [
            tg.user_click(USER, USER, options_id, next(v for k, v in data.items() if "15 s" in k)),
            tg.user_click(USER, USER, options_id, next(v for k, v in data.items() if "Gen" in k)),
        ]
        await tg.wait_until(lambda: all(q in tg.answered_callbacks for q in pressed))
        task = await evolink.wait_task()
        price = {3: 1, 5: 2, 10: 4, 15: 6}[task.body["duration"]]
        assert (await ledger(runtime, USER))[1] == ("reserve", -price)
