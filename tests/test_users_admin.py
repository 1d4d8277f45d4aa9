"""Users, bans, /language and the admin commands: storage units, then the real bot on the fakes.

The end-to-end tests run the project's own wiring (handlers/__init__.py); only the ban gate is
wrapped, to record which updates it finished, so a test can wait for "this update was handled"
and then assert that nothing was sent (silence).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import Application

import handlers
from bot.config import load_settings
from bot.models import JobStatus
from bot.runtime import BotRuntime
from bot.storage import Database, JobStore, Ledger
from bot.storage.jobs import Credit
from bot.storage.stats import period_starts, stats
from bot.storage.users import UserStore
from bot.testing.bot_api import FakeBotApi
from bot.testing.bot_api.wire import Call
from bot.testing.providers.evolink import EvolinkFake
from bot.testing.sample_media import make_sample_photo
from bot.texts.en import EN
from bot.texts.ru import RU
from handlers import admin
from handlers.context import BotContext
from tests.conftest import OTHER_USER, USER
from tests.e2e_helpers import button, options_message_id, press, send_photo_and_get_options
from tests.test_texts import check_html

ADMIN = 4242
S = JobStatus


# ---------------------------------------------------------------- storage: users


@pytest.fixture(name="db")
async def _db(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(tmp_path / "bot.db")
    await db.open()
    yield db
    await db.close()


async def test_touch_records_a_user_once(db: Database) -> None:
    users = UserStore(db, clock=lambda: 1000.0)
    assert await users.get(5) is None
    await users.touch(5, "ru-RU")
    await UserStore(db, clock=lambda: 2000.0).touch(5, "en")  # a new process: no second row
    record = await users.get(5)
    assert record is not None
    assert (record.created_at, record.language, record.banned) == (1000.0, None, False)
    rows = await db.fetchall("SELECT COUNT(*) FROM users")
    assert int(rows[0][0]) == 1
    # The client's language_code is not a choice: only /language stores one.
    assert await users.language(5) is None


async def test_language_choice_is_stored(db: Database) -> None:
    users = UserStore(db)
    await users.set_language(6, "ru")  # never seen before: the row is created
    assert await users.language(6) == "ru"
    await users.touch(6, "en")
    await users.set_language(6, "en")
    assert await UserStore(db).language(6) == "en"
    assert not await users.is_banned(6)


async def test_ban_notifies_exactly_once_per_ban(db: Database) -> None:
    users = UserStore(db)
    assert not await users.should_notify_ban(7)  # unknown user, not banned
    await users.ban(7)  # an id never seen can be banned in advance
    assert await users.is_banned(7)
    # Many updates of the same user at once: exactly one of them sends the notice.
    results = await asyncio.gather(*(users.should_notify_ban(7) for _ in range(6)))
    assert sorted(results) == [False] * 5 + [True]
    assert not await UserStore(db).should_notify_ban(7)  # and not again after a restart
    await users.ban(7)  # banning again re-arms the notice
    assert await users.should_notify_ban(7)
    await users.unban(7)
    assert not await users.is_banned(7)
    assert not await users.should_notify_ban(7)
    await users.ban(7)
    assert await users.should_notify_ban(7)
    assert await users.banned_ids() == [7]


async def test_ban_keeps_the_language(db: Database) -> None:
    users = UserStore(db)
    await users.set_language(8, "ru")
    await users.ban(8)
    await users.unban(8)
    assert await users.language(8) == "ru"


# ---------------------------------------------------------------- storage: stats


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


NOW = ts("2024-05-15 12:00:00")


async def build_history(db: Database) -> None:
    """Jobs at known times (see the expected figures in the tests below)."""
    clock = Clock(NOW)
    ledger = Ledger(db, daily_quota=100, clock=clock)
    store = JobStore(db, ledger, clock=clock)

    async def job(model: str, reserved_at: str, price: int) -> int:
        clock.now = ts(reserved_at)
        draft = await store.create_draft(
            user_id=9, chat_id=9, thread_id=None, photo_message_id=1, photo_file_id="f",
            photo_width=640, photo_height=480, prompt="p", model=model, options={},
            language="en",
        )  # fmt: skip
        outcome, _ = await store.reserve(draft.id, user_id=9, price=price, max_active=50)
        assert outcome.value == "ok"
        return draft.id

    async def end(job_id: int, at: str, to: JobStatus, **fields: Any) -> None:
        clock.now = ts(at)
        credit = Credit.SETTLE if to is S.DELIVERED else Credit.REFUND
        assert (await store.transition(job_id, {S.RESERVED}, to, credit=credit, **fields)).won

    a = await job("grok", "2024-05-15 10:00:00", 2)
    await end(a, "2024-05-15 10:02:00", S.DELIVERED)  # 120 s
    b = await job("grok", "2024-05-15 11:00:00", 1)
    await end(b, "2024-05-15 11:01:00", S.FAILED, error_kind="content_policy")
    c = await job("happyhorse", "2024-05-12 09:00:00", 3)
    await end(c, "2024-05-12 09:01:00", S.DELIVERED)  # 60 s
    d = await job("grok", "2024-05-01 08:00:00", 1)  # before the 7-day window
    await end(d, "2024-05-01 08:00:30", S.DELIVERED)
    e = await job("grok", "2024-05-14 23:59:50", 1)  # reserved yesterday, refunded today
    await end(e, "2024-05-15 00:10:00", S.EXPIRED)
    await job("grok", "2024-05-15 11:30:00", 1)  # still in flight
    clock.now = ts("2024-05-15 11:45:00")
    await store.create_draft(
        user_id=9, chat_id=9, thread_id=None, photo_message_id=2, photo_file_id="f",
        photo_width=640, photo_height=480, prompt="p", model="grok", options={}, language="en",
    )  # fmt: skip  # a draft never generated is not a job


async def test_stats_today_and_last_7_days(db: Database) -> None:
    await build_history(db)
    collected = await stats(db, NOW)
    today, week = collected.today, collected.week
    assert (today.start, week.start) == (ts("2024-05-15 00:00:00"), ts("2024-05-09 00:00:00"))
    assert period_starts(NOW) == (today.start, week.start)

    assert today.jobs == {"grok": {"delivered": 1, "failed": 1, "reserved": 1}}
    assert today.failures == {"content_policy": 1}
    # reserves 2 + 1 + 1, refunds 1 (b) + 1 (e, a job of yesterday refunded today)
    assert today.credits_spent == 2
    assert (today.delivered, today.median_time_to_video_s) == (1, 120.0)

    assert week.jobs == {
        "grok": {"delivered": 1, "expired": 1, "failed": 1, "reserved": 1},
        "happyhorse": {"delivered": 1},
    }
    assert week.failures == {"content_policy": 1, "unknown": 1}
    assert week.credits_spent == 2 + 1 - 1 + 3 + 1 - 1 + 1
    assert (week.delivered, week.median_time_to_video_s) == (2, 90.0)
    assert week.total_jobs == 5


async def test_stats_of_an_empty_database(db: Database) -> None:
    collected = await stats(db, NOW)
    assert collected.today.jobs == {} and collected.week.failures == {}
    assert collected.week.credits_spent == 0
    assert collected.week.median_time_to_video_s is None
    text = admin.format_stats(collected, "en", {})
    assert EN["admin_stats_median_none"] in text
    check_html(text)


async def test_format_stats_in_both_languages(db: Database) -> None:
    await build_history(db)
    collected = await stats(db, NOW)
    titles = {"grok": "Grok <Imagine>"}
    en = admin.format_stats(collected, "en", titles)
    check_html(en)
    assert "📊 <b>Statistics</b> · 2024-05-15 12:00 UTC" in en
    assert "<b>Today</b> (since 2024-05-15): 3 job(s)" in en
    assert "<b>Last 7 days</b> (since 2024-05-09): 5 job(s)" in en
    assert "• Grok &lt;Imagine&gt;: queued 1, delivered 1, failed 1" in en
    assert "• Grok &lt;Imagine&gt;: queued 1, delivered 1, failed 1, expired 1" in en
    assert "• happyhorse: delivered 1" in en
    assert "Failures: content_policy 1\n" in en
    assert "Failures: content_policy 1, unknown 1" in en
    assert "Credits spent: 2\n" in en and "Credits spent: 6\n" in en
    assert "Median time to video: 2 min 0 s (1 delivered)" in en
    assert "Median time to video: 1 min 30 s (2 delivered)" in en
    ru = admin.format_stats(collected, "ru", titles)
    check_html(ru)
    assert "📊 <b>Статистика</b>" in ru and "<b>Сегодня</b>" in ru
    assert "в очереди 1, готово 1, ошибка 1" in ru
    assert "Медианное время до видео: 2 мин 0 с (доставлено: 1)" in ru


def test_format_duration() -> None:
    assert admin.format_duration("en", 42.4) == "42 s"
    assert admin.format_duration("en", 185) == "3 min 5 s"
    assert admin.format_duration("en", 7800) == "2 h 10 min"
    assert admin.format_duration("ru", 185) == "3 мин 5 с"
    assert admin.format_duration("en", -3) == "0 s"


# ---------------------------------------------------------------- end to end


class Handled:
    """Keys of updates the ban gate finished with (message or callback query)."""

    def __init__(self) -> None:
        self.keys: set[Hashable] = set()
        self.changed = asyncio.Condition()

    async def add(self, key: Hashable) -> None:
        async with self.changed:
            self.keys.add(key)
            self.changed.notify_all()

    async def wait(self, key: Hashable, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout), self.changed:
            await self.changed.wait_for(lambda: key in self.keys)


def update_key(update: Update) -> Hashable:
    if update.callback_query is not None:
        return ("query", update.callback_query.id)
    msg = update.effective_message
    return ("message", msg.chat_id, msg.message_id) if msg else ("update", update.update_id)


def wire_operator_side(handled: Handled, original: Callable[..., None]) -> Callable[..., None]:
    """The project's own registration, with only the ban gate's callback swapped for a wrapper
    that records which updates it finished."""

    def register(app: Application, admin_ids: frozenset[int]) -> None:  # type: ignore[type-arg]
        async def gate(update: Update, context: BotContext) -> None:
            try:
                await admin.ban_gate(update, context)
            finally:
                await handled.add(update_key(update))

        original(app, admin_ids)
        wired = [
            h for hs in app.handlers.values() for h in hs
            if getattr(h, "callback", None) is admin.ban_gate
        ]  # fmt: skip
        assert wired, "handlers.register no longer adds the ban gate"
        for handler in wired:
            handler.callback = gate

    return register


OperatorBot = Callable[..., Any]


@pytest.fixture(name="operator_bot")
async def _operator_bot(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[OperatorBot, Handled]]:
    handled = Handled()
    original = handlers.register

    @asynccontextmanager
    async def start(**overrides: str) -> AsyncIterator[BotRuntime]:
        settings = load_settings({**env, "ADMIN_USER_IDS": str(ADMIN), **overrides}, env_file=None)
        runtime = BotRuntime(settings)
        monkeypatch.setattr(handlers, "register", wire_operator_side(handled, original))
        try:
            await runtime.start()
            yield runtime
        finally:
            await runtime.stop()

    yield start, handled


def sent_texts(tg: FakeBotApi, chat_id: int) -> list[str]:
    return [
        str(c.params.get("text"))
        for c in tg.calls_of("sendMessage")
        if c.params.get("chat_id") == chat_id
    ]


async def command(tg: FakeBotApi, user: int, text: str, **kw: Any) -> Call:
    """Send a text in the user's private chat; the bot's first message there after it."""
    seen = len(tg.calls)
    tg.user_text(user, user, text, **kw)

    def reply() -> Call | None:
        return next(
            (
                c
                for c in tg.calls[seen:]
                if c.method == "sendMessage" and c.params.get("chat_id") == user
            ),
            None,
        )

    await tg.wait_until(lambda: reply() is not None)
    found = reply()
    assert found is not None
    return found


async def test_commands_are_unknown_to_everyone_but_admins(
    tg: FakeBotApi, operator_bot: tuple[OperatorBot, Handled]
) -> None:
    start, _ = operator_bot
    async with start() as runtime:
        unknown = (await command(tg, USER, "/nonsense")).params["text"]
        assert unknown == EN["unknown_command"]
        for text in ("/stats", "/grant 1002 5", "/ban 1002", "/unban 1002", "/grant"):
            assert (await command(tg, USER, text)).params["text"] == unknown, text
        ru = await command(tg, OTHER_USER, "/stats", language_code="ru")
        assert ru.params["text"] == RU["unknown_command"]
        # Nothing happened: no grant, no ban.
        assert runtime.ctx is not None and runtime.services is not None
        assert [r["kind"] for r in await runtime.ctx.ledger.rows(1002)] == []
        assert await runtime.services.accounts.banned_ids() == []


async def test_grant_adds_credits_that_show_in_balance(
    tg: FakeBotApi, operator_bot: tuple[OperatorBot, Handled]
) -> None:
    start, _ = operator_bot
    async with start() as runtime:
        reply = await command(tg, ADMIN, f"/grant {OTHER_USER} 7")
        assert reply.params["text"] == f"Granted 7 credit(s) to {OTHER_USER}. Their balance: 12."
        assert runtime.ctx is not None
        rows = await runtime.ctx.ledger.rows(OTHER_USER)
        assert [(r["kind"], r["bucket"], r["amount"]) for r in rows] == [
            ("grant", "granted", 7), ("allowance", "daily", 5),
        ]  # fmt: skip
        assert rows[0]["note"] == f"admin {ADMIN}"
        balance = await command(tg, OTHER_USER, "/balance")
        assert (
            "Gift credits: 7" in balance.params["text"] and "<b>12</b>" in balance.params["text"]
        )
        metrics = runtime.metrics
        assert b"p2v_credits_granted_total 7.0" in metrics.exposition()
        other = OTHER_USER
        for bad in ("/grant", f"/grant {other}", "/grant abc 5", f"/grant {other} 0",
                    f"/grant {other} -3", f"/grant {other} 2 3", f"/grant {other} x",
                    f"/grant {other} 1000001", "/grant 0 5"):  # fmt: skip
            assert (await command(tg, ADMIN, bad)).params["text"] == EN["admin_usage_grant"], bad
        assert len(await runtime.ctx.ledger.rows(OTHER_USER)) == 2  # nothing more granted


async def test_ban_one_notice_then_silence_and_unban(
    tg: FakeBotApi, evolink: EvolinkFake, operator_bot: tuple[OperatorBot, Handled]
) -> None:
    start, handled = operator_bot
    async with start() as runtime:
        assert runtime.ctx is not None
        # Before the ban the user opened an options message.
        _, options = await send_photo_and_get_options(tg, OTHER_USER, "a dog runs")
        options_id = options_message_id(tg, OTHER_USER, options)

        reply = await command(tg, ADMIN, f"/ban {OTHER_USER}")
        assert reply.params["text"] == f"User {OTHER_USER} is banned."
        before = len(sent_texts(tg, OTHER_USER))

        # The first thing they send gets one polite notice, in their language...
        notice = await command(tg, OTHER_USER, "hello", language_code="ru")
        assert notice.params["text"] == RU["banned"]
        # ...then silence: a photo, a command and a button press all get nothing.
        photo = tg.user_photo(OTHER_USER, OTHER_USER, make_sample_photo(640, 480), "a cat")
        await handled.wait(("message", OTHER_USER, photo["message_id"]))
        help_msg = tg.user_text(OTHER_USER, OTHER_USER, "/help")
        await handled.wait(("message", OTHER_USER, help_msg["message_id"]))
        data = button(tg.message(OTHER_USER, options_id)["reply_markup"], "Generate")
        query_id = tg.user_click(OTHER_USER, OTHER_USER, options_id, data["callback_data"])
        await tg.wait_until(lambda: query_id in tg.answered_callbacks)
        answer = await tg.wait_call(
            "answerCallbackQuery", lambda c: c.params["callback_query_id"] == query_id
        )
        assert not answer.params.get("text")  # answered (no spinner), but says nothing
        await handled.wait(("query", query_id))
        assert len(sent_texts(tg, OTHER_USER)) == before + 1
        assert tg.calls_of("sendVideo") == [] and evolink.requests == []
        kinds = [r["kind"] for r in await runtime.ctx.ledger.rows(OTHER_USER)]
        assert "reserve" not in kinds

        # Admins cannot be banned (so an admin cannot lock themselves out); bad ids: usage.
        refused = await command(tg, ADMIN, f"/ban {ADMIN}")
        assert refused.params["text"] == f"User {ADMIN} is an admin and can't be banned."
        for bad in ("/ban", "/ban abc", "/ban 1 2", "/unban"):
            usage = (await command(tg, ADMIN, bad)).params["text"]
            assert usage == EN["admin_usage_ban"], bad

        # Unbanned: the bot answers them again.
        reply = await command(tg, ADMIN, f"/unban {OTHER_USER}")
        assert reply.params["text"] == f"User {OTHER_USER} is unbanned."
        await send_photo_and_get_options(tg, OTHER_USER, "a bird flies")

        # A new ban: one new notice, this time as the answer to a button press.
        await command(tg, ADMIN, f"/ban {OTHER_USER}")
        data = button(tg.message(OTHER_USER, options_id)["reply_markup"], "Generate")
        query_id = tg.user_click(OTHER_USER, OTHER_USER, options_id, data["callback_data"])
        answer = await tg.wait_call(
            "answerCallbackQuery", lambda c: c.params["callback_query_id"] == query_id
        )
        assert answer.params["text"] == EN["banned"] and answer.params["show_alert"] is True
        assert evolink.requests == []


async def test_stats_after_a_delivered_job(
    tg: FakeBotApi, evolink: EvolinkFake, operator_bot: tuple[OperatorBot, Handled]
) -> None:
    start, _ = operator_bot
    async with start() as runtime:
        assert runtime.ctx is not None
        _, options = await send_photo_and_get_options(tg, USER, "waves roll in")
        msg_id = options_message_id(tg, USER, options)
        await press(tg, USER, USER, msg_id, "Generate")
        task = await evolink.wait_task()
        evolink.succeed(task.id)
        await tg.wait_call("sendVideo", timeout=20)
        # The status message says "Done" once the delivery is recorded.
        await tg.wait_until(lambda: "Done" in (tg.message(USER, msg_id) or {}).get("text", ""))
        job = (await runtime.ctx.store.recent_for_user(USER))[0]
        assert job.status is S.DELIVERED and job.price > 0
        spent = job.price

        reply = await command(tg, ADMIN, "/stats")
        text = reply.params["text"]
        assert reply.status == 200  # the fake Bot API parsed the HTML
        assert text.startswith("📊 <b>Statistics</b> · ")
        title = runtime.ctx.registry.models()[job.model].title
        assert f"<b>Today</b> (since {datetime.now(UTC):%Y-%m-%d}): 1 job(s)" in text
        assert text.count(f"• {title}: ") == 2
        assert text.count(f"Credits spent: {spent}\n") == 2
        assert text.count("Failures: none") == 2
        ru = await command(tg, ADMIN, "/stats", language_code="ru")
        assert ru.params["text"].startswith("📊 <b>Статистика</b> · ")
        assert ru.status == 200


async def test_language_choice_is_stored_and_survives_a_restart(
    tg: FakeBotApi, operator_bot: tuple[OperatorBot, Handled]
) -> None:
    start, _ = operator_bot
    async with start() as runtime:
        menu = await command(tg, USER, "/language")
        assert menu.params["text"] == EN["language_choose"]
        buttons = menu.params["reply_markup"]["inline_keyboard"][0]
        assert [(b["text"], b["callback_data"]) for b in buttons] == [
            ("English", "l|en"), ("Русский", "l|ru"),
        ]  # fmt: skip
        menu_id = next(
            m["message_id"] for m in tg.bot_messages(USER) if m["text"] == EN["language_choose"]
        )
        query_id = await press(tg, USER, USER, menu_id, "Русский")
        answer = await tg.wait_call(
            "answerCallbackQuery", lambda c: c.params["callback_query_id"] == query_id
        )
        assert answer.params["text"] == RU["language_set"]
        await tg.wait_until(
            lambda: (tg.message(USER, menu_id) or {}).get("text") == RU["language_set"]
        )
        assert not (tg.message(USER, menu_id) or {}).get("reply_markup")
        # The client still says "en"; the stored choice wins, for every handler.
        help_reply = await command(tg, USER, "/help", language_code="en")
        assert help_reply.params["text"].startswith("<b>Как мной пользоваться</b>")
        assert runtime.services is not None
        assert await runtime.services.accounts.language(USER) == "ru"

    async with start():  # a new process on the same database
        help_reply = await command(tg, USER, "/help", language_code="en")
        assert help_reply.params["text"].startswith("<b>Как мной пользоваться</b>")
        back = await command(tg, USER, "/language en")
        assert back.params["text"] == EN["language_set"]
        assert (await command(tg, USER, "/help")).params["text"].startswith("<b>How to use me")
        # A Russian client with no stored choice gets Russian from the start.
        start_ru = await command(tg, OTHER_USER, "/start", language_code="ru-RU")
        assert start_ru.params["text"].startswith("👋 <b>Привет!")


async def test_buttons_sent_before_the_named_verbs_keep_working(
    tg: FakeBotApi, operator_bot: tuple[OperatorBot, Handled]
) -> None:
    """Language and preset buttons used to carry a fake job id 0 (`l|0|ru`, `t|0|wind`); such
    buttons are still in chats, so they still work."""
    start, _ = operator_bot
    async with start() as runtime:
        await command(tg, USER, "/language")
        menu_id = next(
            m["message_id"] for m in tg.bot_messages(USER) if m["text"] == EN["language_choose"]
        )
        query_id = tg.user_click(USER, USER, menu_id, "l|0|ru", force=True)
        answer = await tg.wait_call(
            "answerCallbackQuery", lambda c: c.params["callback_query_id"] == query_id
        )
        assert answer.params["text"] == RU["language_set"]
        assert runtime.services is not None
        assert await runtime.services.accounts.language(USER) == "ru"

        await command(tg, USER, "/start")
        greeting_id = next(
            m["message_id"]
            for m in tg.bot_messages(USER)
            if "t|wind" in str(m.get("reply_markup"))
        )
        query_id = tg.user_click(USER, USER, greeting_id, "t|0|wind", force=True)
        chosen = await tg.wait_call(
            "sendMessage", lambda c: c.params["text"].startswith(RU["preset_chosen"].split("{")[0])
        )
        assert query_id in tg.answered_callbacks and chosen.params["chat_id"] == USER
