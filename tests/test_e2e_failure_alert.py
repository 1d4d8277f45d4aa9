"""A run of failed jobs reaches the admins once, however many jobs fail."""

from __future__ import annotations

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import options_message_id, press, send_photo_and_get_options
from tests.idle_barrier import wait_idle

ADMIN = 4242


async def test_a_high_failure_rate_alerts_the_admins_once(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot(ADMIN_USER_IDS=str(ADMIN), DAILY_QUOTA="50") as runtime:
        tg.user_command(ADMIN, ADMIN, "start")  # the admin has a chat with the bot
        await tg.wait_call("sendMessage", lambda c: c.params["chat_id"] == ADMIN)
        # Twelve users, one job each: twelve jobs in one chat within seconds would (rightly)
        # run into Telegram's per-chat flood limit, which is not what this test is about.
        users = [USER + n for n in range(12)]
        for n, user in enumerate(users):
            _, options = await send_photo_and_get_options(tg, user, f"job {n}")
            msg_id = options_message_id(tg, user, options)
            await press(tg, user, user, msg_id, "Generate")
            task = await evolink.wait_for(
                lambda: next((t for t in evolink.tasks.values() if t.status == "pending"), None)
            )
            evolink.fail(task.id, "service_error", "upstream exploded")
            await tg.wait_until(
                lambda u=user, m=msg_id: "Failed" in (tg.message(u, m) or {}).get("text", "")
            )
        await wait_idle(tg, runtime, evolink)  # a second alert would come from a spawned task
        alerts = [
            c for c in tg.calls_of("sendMessage")
            if c.params["chat_id"] == ADMIN and "failure rate" in c.params["text"]
        ]  # fmt: skip
        assert len(alerts) == 1
        assert "of the last 10 jobs failed" in alerts[0].params["text"]
        user_texts = " ".join(
            c.params["text"] for c in tg.calls_of("sendMessage") if c.params["chat_id"] in users
        )
        assert "upstream exploded" not in user_texts  # the provider's words stay with the admin
