"""The first minute and coming back: profile texts, /start with ideas to tap, /jobs, Russian.

Before anyone writes, Telegram shows the bot's description and "/" menu in the user's language
(set at start-up for every language and for groups); /start is two lines with description
ideas that apply to the next photo; /jobs is a numbered list with dates in the user's time zone
and a "Send again" button per video.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.models import JobStatus
from bot.telegram import views
from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from bot.testing.sample_media import make_sample_photo
from bot.texts import raw
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import buttons, is_options_message, options_message_id, press


def _commands(tg: FakeBotApi, scope: str, code: str | None) -> list[str]:
    for call in reversed(tg.calls_of("setMyCommands")):
        scope_param = call.params.get("scope") or {}
        if isinstance(scope_param, str):
            scope_param = json.loads(scope_param)
        called_scope = scope_param.get("type", "")
        if called_scope == scope and call.params.get("language_code") == code:
            commands = call.params["commands"]
            listed = json.loads(commands) if isinstance(commands, str) else commands
            return [f"/{c['command']} {c['description']}" for c in listed]
    raise AssertionError(f"no setMyCommands for {scope!r} {code!r}")


async def test_menus_and_descriptions_are_set_per_language_and_for_groups(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot():
        assert _commands(tg, "", None)[0] == "/start What this bot does"
        assert _commands(tg, "", "ru")[0] == "/start Что умеет бот"
        assert _commands(tg, "all_group_chats", None) == [
            "/video Make a video from the photo you reply to",
            "/help How to use it",
        ]
        assert _commands(tg, "all_group_chats", "ru")[0].startswith("/video Сделать видео")
        texts = tg.profile.texts
        assert texts[("description", "")] == raw("en", "bot_description")
        assert texts[("description", "ru")] == raw("ru", "bot_description")
        assert texts[("short_description", "")] == raw("en", "bot_short_description")
        assert texts[("short_description", "ru")] == raw("ru", "bot_short_description")
        assert all(len(raw(lang, "bot_short_description")) <= 120 for lang in ("en", "ru"))


async def test_start_is_two_lines_and_a_tapped_idea_describes_the_next_photo(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot():
        tg.user_command(USER, USER, "start")
        start = await tg.wait_call("sendMessage", lambda c: "Hi!" in c.params["text"])
        assert len(start.params["text"].splitlines()) == 2
        labels = [b["text"] for b in buttons(start.params["reply_markup"])]
        assert labels == ["😊 Smile and wave", "🌬 Wind in the hair", "🎥 Slow zoom in",
                          "🙂 Turn the head"]  # fmt: skip
        # then a sample clip (a looping animation), rendered once and re-sent by file_id
        first_clip = await tg.wait_call("sendAnimation")
        assert first_clip.status == 200 and first_clip.files
        assert first_clip.params["caption"] == raw("en", "sample_caption")
        start_id = next(
            int(m["message_id"]) for m in tg.bot_messages(USER) if "Hi!" in m.get("text", "")
        )
        await press(tg, USER, USER, start_id, "Slow zoom")
        await tg.wait_call("sendMessage", lambda c: "Now send the photo" in c.params["text"])
        photo = tg.user_photo(USER, USER, make_sample_photo(640, 480), None)
        options = await tg.wait_call(
            "sendMessage",
            lambda c: (
                is_options_message(c)
                and c.params["reply_parameters"]["message_id"] == photo["message_id"]
            ),
        )
        assert "the camera slowly zooms in" in options.params["text"]
        msg_id = options_message_id(tg, USER, options)
        await press(tg, USER, USER, msg_id, "Generate")
        task = await evolink.wait_task()
        assert task.body["prompt"] == "the camera slowly zooms in"
        assert not [c for c in tg.calls_of("sendMessage") if "force_reply" in str(c.params)]
        tg.user_command(USER, USER, "start")
        again = await tg.wait_call("sendAnimation", lambda c: c.at > first_clip.at)
        assert again.status == 200 and again.files == {}  # Telegram's copy, no new upload


async def test_russian_start_and_jobs_in_moscow_time_with_send_again(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        tg.user_command(USER, USER, "start", language_code="ru")
        start = await tg.wait_call("sendMessage", lambda c: "Привет" in c.params["text"])
        assert "🎥 Плавный наезд" in str(start.params["reply_markup"])
        photo = tg.user_photo(USER, USER, make_sample_photo(640, 480), "волны", language_code="ru")
        options = await tg.wait_call(
            "sendMessage", lambda c: "Создать" in str(c.params.get("reply_markup"))
        )
        msg_id = next(
            int(m["message_id"])
            for m in tg.bot_messages(USER)
            if m.get("reply_to_message", {}).get("message_id") == photo["message_id"]
            and "text" in m
        )
        assert options.params["text"].startswith("🎬 <b>Настройки видео:</b>")
        await press(tg, USER, USER, msg_id, "Создать")
        evolink.succeed((await evolink.wait_task()).id)
        video = await tg.wait_call("sendVideo", timeout=20)
        assert [b["text"] for b in buttons(video.params["reply_markup"])] == [
            "🔁 Ещё раз · 1 кредит", "⚙️ Настройки",
        ]  # fmt: skip
        assert runtime.ctx is not None
        await tg.wait_until(lambda: "Готово" in str((tg.message(USER, msg_id) or {})["text"]))
        [job] = await runtime.ctx.store.recent_for_user(USER)
        assert job.video_file_id
        tg.user_command(USER, USER, "jobs", language_code="ru")
        listing = await tg.wait_call(
            "sendMessage", lambda c: "последние видео" in c.params["text"]
        )
        moscow = datetime.fromtimestamp(job.created_at, UTC).hour + 3
        line = listing.params["text"].splitlines()[1]
        assert line.startswith("1. волны · готово · ")
        assert f"{moscow % 24:02d}:" in line and "UTC" not in line
        months = raw("ru", "months").split()
        assert months[datetime.fromtimestamp(job.created_at, UTC).month - 1] in line
        send_again = [b["text"] for b in buttons(listing.params["reply_markup"])]
        assert send_again == ["▶️ Прислать · 1"]
        list_id = next(
            int(m["message_id"]) for m in tg.bot_messages(USER) if "последние" in m.get("text", "")
        )
        await press(tg, USER, USER, list_id, "Прислать")
        resent = await tg.wait_call(
            "sendVideo", lambda c: c.params.get("video") == job.video_file_id and c.at > listing.at
        )
        assert resent.params["chat_id"] == USER and resent.files == {}


async def test_a_display_timezone_overrides_the_language_default(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot(DISPLAY_TIMEZONE="Asia/Tokyo") as runtime:
        tg.user_photo(USER, USER, make_sample_photo(640, 480), "waves")
        options = await tg.wait_call("sendMessage", is_options_message)
        await press(tg, USER, USER, options_message_id(tg, USER, options), "Generate")
        await evolink.wait_task()
        assert runtime.ctx is not None
        [job] = await runtime.ctx.store.recent_for_user(USER)
        tg.user_command(USER, USER, "jobs")
        listing = await tg.wait_call("sendMessage", lambda c: "recent videos" in c.params["text"])
        tokyo = (datetime.fromtimestamp(job.created_at, UTC).hour + 9) % 24
        assert f"{tokyo:02d}:" in listing.params["text"] and "UTC" not in listing.params["text"]


def test_russian_durations_are_words_not_0s() -> None:
    from bot.models import Job

    fields = {name: None for name in Job.__dataclass_fields__}
    job = Job(**{  # type: ignore[arg-type]
        **fields, "id": 1, "user_id": USER, "chat_id": USER, "photo_message_id": 1,
        "photo_file_id": "x", "photo_width": 640, "photo_height": 480, "prompt": "волны",
        "model": "grok", "options": {"duration": "6"}, "price": 1,
        "status": JobStatus.SUBMITTED, "callback_secret": "s", "tried_providers": (),
        "language": "ru", "created_at": 1000.0, "updated_at": 1000.0, "submitted_at": 1000.0,
        "eta_s": 125, "not_found_count": 0,
    })  # fmt: skip
    text = views.status_text(job, "Grok Imagine", now=1000.0)
    assert "прошло 0 с" in text and "осталось около 2 мин 5 с" in text
    assert "0s" not in text
