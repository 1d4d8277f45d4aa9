"""Groups and forum topics, end to end against the fake Bot API and fake evolink.

The bot reacts in a group only to a photo whose caption starts with /video (or /video@bot) or
mentions @bot, and to `/video <prompt>` sent as a reply to a photo; everything else is ignored
without a word. Options, questions, status, failures and the video stay in the chat and forum
topic they came from; only the job's owner can press its buttons and only the owner pays.
GROUP_MODE and ALLOWED_CHAT_IDS limit which groups and which members are served.
"""

from __future__ import annotations

import time
from typing import Any

from bot.models import Job
from bot.runtime import BotRuntime
from bot.telegram import keyboards
from bot.testing.bot_api import FakeBotApi
from bot.testing.bot_api.wire import Call
from bot.testing.providers.evolink import EvolinkFake
from bot.testing.sample_media import make_sample_photo
from bot.texts import raw
from tests.conftest import OTHER_USER, USER, BotFactory
from tests.e2e_helpers import buttons, is_options_message, options_message_id, press
from tests.idle_barrier import wait_idle

GROUP = -1001500000001
OTHER_GROUP = -1001500000002
TOPIC = 77
BOT = "photo2video_bot"


def _replies_to(message_id: int) -> Any:
    return lambda c: (c.params.get("reply_parameters") or {}).get("message_id") == message_id


def _sent_to(tg: FakeBotApi, chat_id: int, method: str = "sendMessage") -> list[Call]:
    return [c for c in tg.calls_of(method) if c.params.get("chat_id") == chat_id]


async def _options_for(tg: FakeBotApi, chat_id: int, message_id: int) -> Call:
    """The options message the bot sends in reply to the message `message_id` of `chat_id`."""
    return await tg.wait_call(
        "sendMessage",
        lambda c: (
            c.params["chat_id"] == chat_id and is_options_message(c) and _replies_to(message_id)(c)
        ),
    )


async def _job_of(runtime: BotRuntime, options: Call) -> Job:
    """The job an options message belongs to (its buttons carry the job id)."""
    assert runtime.ctx is not None
    action = keyboards.parse(buttons(options.params["reply_markup"])[-1]["callback_data"])
    assert action is not None
    job = await runtime.ctx.store.get(action.job_id)
    assert job is not None
    return job


def _group_photo(
    tg: FakeBotApi, user: int, caption: str | None, *, chat: int = GROUP, **kw: Any
) -> dict[str, Any]:
    return tg.user_photo(
        chat, user, make_sample_photo(), caption, chat_type="supergroup", first_name=f"U{user}",
        **kw,
    )  # fmt: skip


def _group_text(tg: FakeBotApi, user: int, text: str, **kw: Any) -> dict[str, Any]:
    return tg.user_text(GROUP, user, text, chat_type="supergroup", first_name=f"U{user}", **kw)


def _push_group_photo(tg: FakeBotApi, sender: dict[str, Any], sender_chat: dict[str, Any],
                      **extra: Any) -> None:  # fmt: skip
    """A photo mentioning the bot, posted in GROUP on behalf of `sender_chat`."""
    chat = tg.world.chat(GROUP, "supergroup", tg.world.user(USER, f"U{USER}", "en"), forum=False)
    message = {
        "from": sender, "sender_chat": sender_chat, "date": int(time.time()),
        "photo": tg.world.photo_sizes(make_sample_photo()), "caption": f"@{BOT} animate",
        **extra,
    }  # fmt: skip
    tg.push_update({"message": tg.world.add_message(chat, message)})


async def _ledger(runtime: BotRuntime) -> list[tuple[int, str]]:
    """(user_id, kind) of every ledger row, oldest first."""
    rows = await runtime.db.fetchall("SELECT user_id, kind FROM ledger ORDER BY id")
    return [(int(r[0]), str(r[1])) for r in rows]


# ---- triggers -----------------------------------------------------------------------------
async def test_group_triggers_start_a_draft_with_the_trigger_removed(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    captions = {
        "/video a dog runs": "a dog runs",
        f"/video@{BOT} a cat jumps": "a cat jumps",
        f"@{BOT} the sea waves": "the sea waves",
        f"leaves fall @{BOT.title()}": "leaves fall",  # usernames are case-insensitive
    }
    async with start_bot() as runtime:
        for caption, prompt in captions.items():
            photo = _group_photo(tg, USER, caption)
            options = await _options_for(tg, GROUP, photo["message_id"])
            assert (await _job_of(runtime, options)).prompt == prompt
            assert "/video" not in options.params["text"] and "@" not in options.params["text"]
        # `/video <prompt>` replying to someone else's photo: the one who asked owns the job
        posted = _group_photo(tg, OTHER_USER, None)
        _group_text(tg, USER, "/video rain starts", reply_to=posted["message_id"])
        options = await _options_for(tg, GROUP, posted["message_id"])
        job = await _job_of(runtime, options)
        assert (job.user_id, job.prompt, job.photo_message_id) == (
            USER, "rain starts", posted["message_id"],
        )  # fmt: skip
        # `/video@bot` without a prompt uses the photo's caption
        captioned = _group_photo(tg, OTHER_USER, "sunset over the bay")
        _group_text(tg, USER, f"/video@{BOT}", reply_to=captioned["message_id"])
        options = await _options_for(tg, GROUP, captioned["message_id"])
        assert (await _job_of(runtime, options)).prompt == "sunset over the bay"
        assert len([c for c in _sent_to(tg, GROUP) if is_options_message(c)]) == 6


async def test_everything_else_in_a_group_is_ignored_silently(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        plain = _group_photo(tg, USER, None)
        _group_photo(tg, USER, "nice picture")
        _group_photo(tg, USER, "/video@other_bot make it move")
        _group_photo(tg, USER, f"@{BOT}2 make it move")  # another bot with a longer name
        _group_photo(tg, USER, "/videos are fun")
        _group_text(tg, USER, f"hello @{BOT}")
        _group_text(tg, USER, "/video")  # not a reply to a photo
        text = _group_text(tg, OTHER_USER, "just chatting")
        _group_text(tg, USER, "/video make it move", reply_to=text["message_id"])
        _group_text(tg, USER, "great shot", reply_to=plain["message_id"])
        _group_text(tg, USER, "/help@other_bot")
        # sent on behalf of a chat: nobody could press the job's buttons
        _push_group_photo(tg, {"id": 777000, "is_bot": False, "first_name": "Telegram"},
                          {"id": -1001999, "type": "channel", "title": "News"},
                          is_automatic_forward=True)  # fmt: skip
        _push_group_photo(tg, {"id": 1087968824, "is_bot": True, "first_name": "Group",
                               "username": "GroupAnonymousBot"},
                          {"id": GROUP, "type": "supergroup", "title": "Group"})  # fmt: skip
        # then a real request: its options message is the only message the bot sends
        asked = _group_photo(tg, OTHER_USER, "/video the grass sways")
        await _options_for(tg, GROUP, asked["message_id"])
        await wait_idle(tg, runtime)  # nothing more comes later
        assert len(_sent_to(tg, GROUP)) == 1
        assert len(tg.calls_of("getFile")) == 1


# ---- forum topics -------------------------------------------------------------------------
async def test_forum_topic_is_kept_for_every_message_of_the_job(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot():
        photo = _group_photo(tg, USER, "/video", thread_id=TOPIC)  # no prompt: asks for one
        options = await _options_for(tg, GROUP, photo["message_id"])
        msg_id = options_message_id(tg, GROUP, options)
        ask = await tg.wait_call("sendMessage", lambda c: "force_reply" in str(c.params))
        ask_id = next(
            int(m["message_id"])
            for m in tg.bot_messages(GROUP)
            if m.get("text") == ask.params["text"]
        )
        _group_text(tg, USER, "the lamp flickers", reply_to=ask_id, thread_id=TOPIC)
        await tg.wait_call(
            "editMessageText",
            lambda c: c.params["message_id"] == msg_id and "flickers" in c.params["text"],
        )
        await press(tg, GROUP, USER, msg_id, "Generate")
        task = await evolink.wait_task()
        assert task.body["prompt"] == "the lamp flickers"
        evolink.succeed(task.id)
        video = await tg.wait_call("sendVideo", timeout=20)
        assert video.params["reply_parameters"]["message_id"] == photo["message_id"]
        # a second job in the same topic that fails: the failure notice stays in the topic too
        _group_text(tg, USER, "/video waves", reply_to=photo["message_id"], thread_id=TOPIC)
        second = await tg.wait_call(
            "sendMessage", lambda c: is_options_message(c) and "waves" in c.params["text"]
        )
        await press(tg, GROUP, USER, options_message_id(tg, GROUP, second), "Generate")
        failing = await evolink.wait_task(2)
        assert failing.body["prompt"] == "waves"
        evolink.fail(failing.id, "content_policy_violation", "Content policy violation.")
        await tg.wait_call(
            "sendMessage", lambda c: "New description" in str(c.params.get("reply_markup"))
        )
        sent = [*_sent_to(tg, GROUP), *_sent_to(tg, GROUP, "sendVideo")]
        assert len(sent) == 5  # options, question, video, options, failure
        assert {c.params.get("message_thread_id") for c in sent} == {TOPIC}
        actions = _sent_to(tg, GROUP, "sendChatAction")
        assert actions and {c.params.get("message_thread_id") for c in actions} == {TOPIC}


async def test_topic_and_general_chat_do_not_mix(tg: FakeBotApi, start_bot: BotFactory) -> None:
    async with start_bot():
        in_topic = _group_photo(tg, USER, f"@{BOT} rain", thread_id=TOPIC)
        in_general = _group_photo(tg, USER, f"@{BOT} snow")
        topic_options = await _options_for(tg, GROUP, in_topic["message_id"])
        general_options = await _options_for(tg, GROUP, in_general["message_id"])
        assert topic_options.params["message_thread_id"] == TOPIC
        assert general_options.params.get("message_thread_id") is None


# ---- who may press, who pays --------------------------------------------------------------
async def test_only_the_owner_can_press_change_the_prompt_and_pay(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        photo = _group_photo(tg, OTHER_USER, None)  # OTHER posts; USER asks for the video
        _group_text(tg, USER, "/video make it snow", reply_to=photo["message_id"])
        options = await _options_for(tg, GROUP, photo["message_id"])
        msg_id = options_message_id(tg, GROUP, options)
        stranger = await press(tg, GROUP, OTHER_USER, msg_id, "Generate")
        alert = await tg.wait_call(
            "answerCallbackQuery", lambda c: c.params["callback_query_id"] == stranger
        )
        assert alert.params["show_alert"] is True
        assert alert.params["text"] == raw("en", "not_your_button")
        # a stranger's reply to the options message is ignored; the owner's changes the prompt
        _group_text(tg, OTHER_USER, "hijacked prompt", reply_to=msg_id)
        await press(tg, GROUP, USER, msg_id, "Options")  # groups fold the options behind a tap
        await tg.wait_until(
            lambda: "10 s" in str((tg.message(GROUP, msg_id) or {}).get("reply_markup"))
        )
        await press(tg, GROUP, USER, msg_id, "10 s")  # handled after the stranger's reply
        edited = await tg.wait_call(
            "editMessageText",
            lambda c: (
                c.params["message_id"] == msg_id and "✅ 10 s" in str(c.params["reply_markup"])
            ),
        )
        assert "make it snow" in edited.params["text"] and "hijacked" not in edited.params["text"]
        _group_text(tg, USER, "make it snow harder", reply_to=msg_id)
        await tg.wait_call(
            "editMessageText",
            lambda c: c.params["message_id"] == msg_id and "snow harder" in c.params["text"],
        )
        await wait_idle(tg, runtime, evolink)  # nothing more comes later
        assert evolink.requests_to("create") == []
        await press(tg, GROUP, USER, msg_id, "Generate")
        task = await evolink.wait_task()
        assert task.body["prompt"] == "make it snow harder"
        # the stranger cannot cancel the owner's running job either
        stranger = await press(tg, GROUP, OTHER_USER, msg_id, "Cancel")
        alert = await tg.wait_call(
            "answerCallbackQuery", lambda c: c.params["callback_query_id"] == stranger
        )
        assert alert.params["show_alert"] is True
        evolink.succeed(task.id)
        video = await tg.wait_call("sendVideo", timeout=20)
        assert video.params["chat_id"] == GROUP
        assert video.params["reply_parameters"]["message_id"] == photo["message_id"]
        # in a group the status message is removed once the job is settled (the video says it)
        await tg.wait_call(
            "deleteMessage", lambda c: c.params["message_id"] == msg_id and c.at > video.at
        )
        assert all("hijacked" not in c.params["text"] for c in tg.calls_of("editMessageText"))
        ledger = await _ledger(runtime)
        assert [kind for user, kind in ledger if user == USER] == [
            "allowance",
            "reserve",
            "settle",
        ]
        assert [row for row in ledger if row[0] != USER] == []


# ---- operator limits ----------------------------------------------------------------------
async def test_group_mode_off_ignores_groups_but_serves_private_chats(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot(GROUP_MODE="off") as runtime:
        photo = _group_photo(tg, USER, "/video go")
        _group_photo(tg, USER, f"@{BOT} go")
        _group_text(tg, USER, "/video go", reply_to=photo["message_id"])
        private = tg.user_photo(USER, USER, make_sample_photo(), "go")
        await _options_for(tg, USER, private["message_id"])
        await wait_idle(tg, runtime)  # nothing more comes later
        assert _sent_to(tg, GROUP) == []
        assert len(tg.calls_of("getFile")) == 1


async def test_admins_only_serves_admins_and_ignores_other_members(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    tg.set_chat_admins(GROUP, {USER})
    async with start_bot(GROUP_MODE="admins-only") as runtime:
        # when Telegram cannot say who is an admin, the message is ignored, not answered
        tg.inject("getChatMember", status=400, description="Bad Request: user not found")
        _group_photo(tg, OTHER_USER, "/video please")
        await tg.wait_call("getChatMember", lambda c: c.status == 400)
        member = _group_photo(tg, OTHER_USER, "/video please")
        await tg.wait_call(
            "getChatMember", lambda c: c.params["user_id"] == OTHER_USER and c.status == 200
        )
        _group_text(tg, OTHER_USER, "/video please", reply_to=member["message_id"])
        admin = _group_photo(tg, USER, "/video please")
        options = await _options_for(tg, GROUP, admin["message_id"])
        assert [c.params["user_id"] for c in tg.calls_of("getChatMember")].count(USER) >= 1
        await wait_idle(tg, runtime)  # nothing more comes later
        assert [c for c in _sent_to(tg, GROUP) if c is not options] == []
        assert len(tg.calls_of("getFile")) == 1


async def test_allowed_chat_ids_limit_which_groups_are_served(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot(ALLOWED_CHAT_IDS=str(GROUP)) as runtime:
        _group_photo(tg, USER, "/video go", chat=OTHER_GROUP)
        allowed = _group_photo(tg, USER, "/video go")
        await _options_for(tg, GROUP, allowed["message_id"])
        private = tg.user_photo(USER, USER, make_sample_photo(), "go")  # private chats: always
        await _options_for(tg, USER, private["message_id"])
        await wait_idle(tg, runtime)  # nothing more comes later
        assert _sent_to(tg, OTHER_GROUP) == []
        assert len(tg.calls_of("getFile")) == 2


async def test_a_group_status_still_names_the_owner_after_a_restart(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    """The requester's name is stored with the job: a restarted bot (or another replica)
    still says whose job it is, not "someone"."""
    async with start_bot() as runtime:
        photo = _group_photo(tg, USER, "/video waves")
        options = await _options_for(tg, GROUP, photo["message_id"])
        await press(tg, GROUP, USER, options_message_id(tg, GROUP, options), "Generate")
        task = await evolink.wait_task()
        job = await _job_of(runtime, options)
        assert job.requester_name == f"U{USER}"
    before = {id(c) for c in tg.calls_of("editMessageText")}
    async with start_bot():
        evolink.advance(task.id)  # running, with progress
        await evolink.send_callback(task.id)  # the woken job edits its status message
        edit = await tg.wait_call(
            "editMessageText",
            lambda c: id(c) not in before and c.params["chat_id"] == GROUP,
            timeout=20,
        )
        assert f"for U{USER}" in edit.params["text"]
        assert raw("en", "someone") not in edit.params["text"]
