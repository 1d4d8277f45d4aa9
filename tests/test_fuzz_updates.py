"""Fuzzing the Telegram door: generated updates of every type against the real bot.

Users type anything (markup, commands with odd arguments, edits), send photos with hostile
captions, press buttons with forged callback data, and Telegram sends the update types the bot
never asked for (channel posts, anonymous admins, member changes, unknown fields). Invariants,
checked once the bot is idle: no unhandled exception, no text Telegram would refuse, every
button press answered, no credit moved without its job event, every balance equal to its ledger.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import pytest
from hypothesis import strategies as st

from bot.runtime import BotRuntime
from bot.testing.bot_api import FakeBotApi
from bot.testing.sample_media import make_sample_photo
from tests.conftest import BotFactory
from tests.fuzz_support import draw

Json = dict[str, Any]
USERS = [7001, 7002, 7003]
GROUP = -100700
UPDATES_BUDGET = 120
WEBHOOK_BUDGET = 120
HOSTILE_TEXT = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["&" * 900, "<" * 500 + ">", "<b>bold", "&amp;" * 300, "\x00", "🎬" * 700]),
    st.builds(lambda c, n: c * n, st.sampled_from(list("&<>\"'")), st.integers(1, 1200)),
)  # fmt: skip
COMMANDS = st.sampled_from(
    ["/start", "/help", "/balance", "/jobs", "/language", "/video", "/stats", "/grant 1 5",
     "/ban 1", "/resend ²", "/resend 99999999999999999999", "/resend -1", "/resend #1",
     "/resend", "/nope", "/start@photo2video_bot", "/video@other_bot hi"]
)  # fmt: skip
CALLBACK_DATA = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["g|²", "g|" + "9" * 20, "g|0", "o|1|duration|999", "m|1|nope", "l|xx",
                     "x|1", "r|1|a|b|c", "|||", "g|1"]),
    st.builds(lambda v, n: f"{v}|{n}", st.sampled_from(list("omgxracpl")),
              st.integers(-5, 2**64)),
)  # fmt: skip
ACTION = st.one_of(
    st.tuples(st.just("text"), st.sampled_from(USERS), st.one_of(HOSTILE_TEXT, COMMANDS)),
    st.tuples(st.just("photo"), st.sampled_from(USERS), HOSTILE_TEXT),
    st.tuples(st.just("click"), st.sampled_from(USERS), CALLBACK_DATA),
    st.tuples(st.just("edit"), st.sampled_from(USERS), st.one_of(COMMANDS, HOSTILE_TEXT)),
    st.tuples(st.just("group"), st.sampled_from(USERS), st.one_of(COMMANDS, HOSTILE_TEXT)),
    st.tuples(st.just("raw"), st.sampled_from(USERS), st.sampled_from(
        ["channel_post", "edited_channel_post", "my_chat_member", "chat_member", "inline_query",
         "message_reaction", "chat_join_request",
         "anonymous_admin", "no_from", "unknown_type", "unknown_fields", "callback_no_message"])),
)  # fmt: skip


def _raw(kind: str, user: int) -> Json:
    """Update types nobody sent through our UI, shaped as the Bot API documents them."""
    person = {"id": user, "is_bot": False, "first_name": "Eve"}
    channel = {"id": -100999, "type": "channel", "title": "News"}
    group = {"id": GROUP, "type": "supergroup", "title": "Group"}
    base_msg = {"message_id": 900_000 + user, "date": int(time.time())}
    member = {
        "chat": group, "from": person, "date": int(time.time()),
        "old_chat_member": {"status": "left", "user": person},
        "new_chat_member": {"status": "member", "user": person},
    }  # fmt: skip
    match kind:
        case "channel_post" | "edited_channel_post":
            post = {**base_msg, "chat": channel, "text": "/grant 1 5", "sender_chat": channel}
            return {kind: post if kind == "channel_post" else {**post, "edit_date": 1}}
        case "my_chat_member" | "chat_member":
            return {kind: member}
        case "poll":
            return {"poll": {"id": "p", "question": "q?", "options": [], "total_voter_count": 0,
                             "is_closed": False, "is_anonymous": True, "type": "regular",
                             "allows_multiple_answers": False}}  # fmt: skip
        case "poll_answer":
            return {"poll_answer": {"poll_id": "p", "user": person, "option_ids": [0]}}
        case "inline_query":
            return {"inline_query": {"id": "iq", "from": person, "query": "<b>", "offset": ""}}
        case "message_reaction":
            return {"message_reaction": {"chat": group, "message_id": 1, "date": 1, "user": person,
                                         "old_reaction": [], "new_reaction": []}}  # fmt: skip
        case "chat_join_request":
            return {"chat_join_request": {"chat": group, "from": person, "user_chat_id": user,
                                          "date": 1}}  # fmt: skip
        case "anonymous_admin":
            return {"message": {**base_msg, "chat": group, "text": "/video make it move",
                                "from": {"id": 1087968824, "is_bot": True,
                                         "first_name": "Group", "username": "GroupAnonymousBot"},
                                "sender_chat": group}}  # fmt: skip
        case "no_from":
            return {"message": {**base_msg, "chat": {"id": user, "type": "private"}, "text": "hi"}}
        case "unknown_type":
            return {"future_update_kind": {"anything": [1, 2, 3]}}
        case "unknown_fields":
            return {"message": {**base_msg, "chat": {"id": user, "type": "private",
                                                     "first_name": "Eve", "new_field": 1},
                                "from": {**person, "is_premium_plus": True},
                                "text": "hello", "brand_new": {"x": 1}}}  # fmt: skip
        case _:  # a callback query about a message too old to be sent along
            return {"callback_query": {"id": f"cq-{user}", "from": person,
                                       "chat_instance": "ci", "data": "g|1"}}  # fmt: skip


async def _open_chats(tg: FakeBotApi) -> None:
    """Each user has an options message before anything odd happens (forged presses land on a
    real keyboard of the bot)."""
    for user in USERS:
        tg.user_photo(user, user, make_sample_photo(320, 240), "a calm sea")
    await tg.wait_until(lambda: all(tg.bot_messages(u) for u in USERS))


async def _idle(tg: FakeBotApi, runtime: BotRuntime) -> None:
    """Every update taken and every handler finished (PTB's stop() joins its update queue)."""
    await tg.wait_until(lambda: not tg.pending_updates, timeout=60)
    assert runtime.app is not None
    await runtime.app.stop()


def _play(tg: FakeBotApi, action: tuple[str, int, str], clicks: list[str]) -> None:
    kind, user, value = action
    photo = make_sample_photo(320, 240)
    if kind == "text":
        tg.user_text(user, user, value or ".")
    elif kind == "photo":
        tg.user_photo(user, user, photo, value or None)
    elif kind == "group":
        tg.user_text(GROUP, user, value or ".", chat_type="supergroup")
    elif kind == "click":
        mine = tg.bot_messages(user)
        if mine:
            last = mine[-1]["message_id"]
            clicks.append(tg.user_click(user, user, last, value or "x", force=True))
    elif kind == "edit":
        sent = tg.user_text(user, user, "/balance")
        edited = {**sent, "text": value or ".", "edit_date": int(time.time()) + 1}
        edited.pop("entities", None)
        tg.push_update({"edited_message": edited})
    else:
        tg.push_update(_raw(value, user))


async def _check_money(runtime: BotRuntime) -> None:
    """No credit moved without its job event; every balance equals the sum of its ledger."""
    ctx = runtime.ctx
    assert ctx is not None
    event_of = {"reserve": {"reserved"}, "settle": {"delivered"},
                "refund": {"failed", "cancelled", "expired"}}  # fmt: skip
    for user in USERS:
        rows = await ctx.ledger.rows(user)
        balance = await ctx.ledger.balance(user)
        assert balance.total == sum(int(r["amount"]) for r in rows)
        for row in rows:
            if row["kind"] in event_of:
                history = await ctx.store.history(int(row["job_id"]))
                assert event_of[row["kind"]] & {to for _, to, _at in history}, (row, history)
            else:
                assert row["kind"] == "allowance", dict(row)  # nobody here may grant


def _assert_no_errors(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [f"{r.name}: {r.getMessage()[:200]}" for r in errors]


def _assert_telegram_accepted_every_text(tg: FakeBotApi) -> None:
    # The fake answers 400 to text Telegram would refuse (bad HTML, too long): never here.
    texts = ("sendmessage", "editmessagetext", "sendvideo", "editmessagecaption")
    refused = [(c.method, c.params) for c in tg.calls if c.status == 400 and c.method.lower()
               in texts and "message to be replied not found" not in str(c.params)]  # fmt: skip
    assert not [c for c in tg.calls if c.status >= 500]
    assert not refused, refused[:3]


@pytest.mark.parametrize("batch", range(2))
async def test_fuzzed_updates_via_get_updates(
    tg: FakeBotApi, start_bot: BotFactory, caplog: pytest.LogCaptureFixture, batch: int
) -> None:
    actions = draw(st.lists(ACTION, min_size=5, max_size=15), UPDATES_BUDGET // 10)
    actions = actions[batch::2]
    clicks: list[str] = []
    # These are about the shapes of updates, not their rate: a burst of ~60 actions in a few
    # chats would meet Telegram's per-chat flood limits (test_telegram_flood.py covers those).
    tg.flood = None
    async with start_bot(PHOTOS_PER_MINUTE="5", MAX_DRAFTS_PER_USER="4") as runtime:
        await _open_chats(tg)
        for sequence in actions:
            for action in sequence:
                _play(tg, action, clicks)
        await _idle(tg, runtime)
        await _check_money(runtime)
    assert all(q in tg.answered_callbacks for q in clicks)
    _assert_no_errors(caplog)
    _assert_telegram_accepted_every_text(tg)
    played = sum(map(len, actions))
    print(f"[fuzz getUpdates batch {batch}] {played} actions, {len(clicks)} clicks")


WEBHOOK_BODY = st.one_of(
    st.builds(lambda a: ("action", a), ACTION),
    st.builds(lambda b: ("bytes", b), st.one_of(
        st.binary(max_size=80), st.sampled_from([b"[]", b"null", b"{}", b'{"update_id": "1"}',
        b'{"update_id": 1e400}', b'{"update_id": -1, "message": 5}',
        b'{"update_id": 99999999999999999999999, "message": {}}',
        b'{"update_id": 5, "message": {"message_id": "x", "chat": null}}',
        b'{"update_id": 6, "callback_query": {"id": 1}}']))),
)  # fmt: skip


async def test_fuzzed_webhook_bodies_never_get_a_5xx(
    tg: FakeBotApi, start_bot: BotFactory, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    bodies = draw(WEBHOOK_BODY, WEBHOOK_BUDGET)
    url = f"{env['PUBLIC_BASE_URL']}/telegram/webhook"
    statuses: list[int] = []
    clicks: list[str] = []
    tg.local_mode = True  # plain http:// on a test port: a local Bot API server delivers there
    async with start_bot(
        TELEGRAM_WEBHOOK_URL=url,
        TELEGRAM_WEBHOOK_SECRET="s3cret_value-1",
        TELEGRAM_LOCAL_MODE="true",
    ) as rt:
        endpoint = tg.webhook_url or ""
        headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret_value-1"}
        await _open_chats(tg)
        async with httpx.AsyncClient() as client:
            for kind, body in bodies:
                if kind == "action":
                    _play(tg, body, clicks)  # delivered by the fake's webhook sender
                    continue
                response = await client.post(endpoint, content=body, headers=headers)
                statuses.append(response.status_code)
        await _idle(tg, rt)
        await _check_money(rt)
    assert all(s < 500 for s in statuses), statuses
    assert all(s < 500 for _, s in tg.webhook_deliveries), tg.webhook_deliveries
    assert all(q in tg.answered_callbacks for q in clicks)
    _assert_no_errors(caplog)
    _assert_telegram_accepted_every_text(tg)
    print(f"[fuzz webhook] {len(bodies)} bodies, {len(statuses)} raw posts, {len(clicks)} clicks")
