"""Referrals: a personal deep link in /balance; both sides get REFERRAL_BONUS after the new
user's first delivered video, once; never for oneself, never for an existing user."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

from bot.runtime import BotRuntime
from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from tests.conftest import OTHER_USER, USER, BotFactory
from tests.e2e_helpers import button, press
from tests.idle_barrier import bot_tasks_done
from tests.lifecycle_support import open_options, wait_text
from tests.payments_support import bot_idle, ledger_rows, texts_to, wait_message

THIRD = 1004


async def invitation_link(tg: FakeBotApi, user: int) -> str:
    """The deep link behind the share button of the user's /balance."""
    mark = len(tg.calls)
    tg.user_command(user, user, "balance")
    shown = await wait_message(tg, user, "Your credits", after=mark)
    share = button(shown.params["reply_markup"], "Invite a friend")["url"]
    assert share.startswith("https://t.me/share/url?")
    (link,) = parse_qs(urlsplit(share).query)["url"]
    return unquote(link)


async def deliver_one(tg: FakeBotApi, evolink: EvolinkFake, user: int, n: int) -> None:
    _, msg_id = await open_options(tg, user)
    await press(tg, user, user, msg_id, "Generate")
    task = await evolink.wait_task(n)
    evolink.succeed(task.id)
    await wait_text(tg, msg_id, "Done", chat_id=user, timeout=20)


def referral_rows(rows: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    return [r for r in rows if r[0] == "referral"]


async def test_both_get_the_bonus_once_after_the_first_video(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot(REFERRAL_BONUS="3") as runtime:
        link = await invitation_link(tg, USER)
        assert link.startswith("https://t.me/photo2video_bot?start=ref_")
        parameter = link.split("start=", 1)[1]

        mark = len(tg.calls)
        tg.user_command(OTHER_USER, OTHER_USER, "start", parameter, first_name="Bob")
        await wait_message(tg, OTHER_USER, "you and your friend both get 3 credits", after=mark)
        assert referral_rows(await ledger_rows(runtime, OTHER_USER)) == []  # not before a video

        await deliver_one(tg, evolink, OTHER_USER, 1)
        await wait_message(tg, OTHER_USER, "Invitation bonus: +3 credits", after=mark)
        await wait_message(tg, USER, "Invitation bonus: +3 credits", after=mark)
        # A second video and the same link again change nothing.
        await deliver_one(tg, evolink, OTHER_USER, 2)
        tg.user_command(OTHER_USER, OTHER_USER, "start", parameter, first_name="Bob")
        await wait_message(tg, OTHER_USER, "for people new to this bot", after=mark)
        await bot_idle(tg, runtime)
        await runtime_idle_after_delivery(runtime)
        assert referral_rows(await ledger_rows(runtime, OTHER_USER)) == [
            ("referral", "granted", 3)
        ]
        assert referral_rows(await ledger_rows(runtime, USER)) == [("referral", "granted", 3)]
        assert len(texts_to(tg, USER, "Invitation bonus")) == 1
        assert len(texts_to(tg, OTHER_USER, "Invitation bonus")) == 1


async def runtime_idle_after_delivery(runtime: BotRuntime) -> None:
    """The delivery hook runs in the job's background task: wait for those tasks too."""
    await bot_tasks_done(runtime)


async def test_no_bonus_for_oneself_or_for_an_existing_user(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot(REFERRAL_BONUS="3") as runtime:
        parameter = (await invitation_link(tg, USER)).split("start=", 1)[1]
        mark = len(tg.calls)
        tg.user_command(USER, USER, "start", parameter)
        await wait_message(tg, USER, "your own invitation link", after=mark)

        await deliver_one(tg, evolink, THIRD, 1)  # THIRD already uses the bot
        tg.user_command(THIRD, THIRD, "start", parameter)
        await wait_message(tg, THIRD, "for people new to this bot", after=mark)
        await bot_idle(tg, runtime)
        await runtime_idle_after_delivery(runtime)
        assert runtime.ctx is not None
        rows = await runtime.ctx.store.db.fetchall("SELECT * FROM referrals")
        assert rows == []
        for user in (USER, THIRD):
            assert referral_rows(await ledger_rows(runtime, user)) == []


async def test_referrals_off_by_default_show_no_share_button(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot():
        mark = len(tg.calls)
        tg.user_command(USER, USER, "balance")
        shown = await wait_message(tg, USER, "Your credits", after=mark)
        assert "Invite" not in str(shown.params["reply_markup"])
        assert "Top up" in str(shown.params["reply_markup"])
