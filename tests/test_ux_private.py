"""What a person sees in a private chat, end to end through the fake Bot API and fake evolink.

The options message explains itself (a plain-word summary, the wait, what each choice adds, the
model's defaults on a switch, a warning for a small photo, a mark on a model the photo does not
fit); a required description is asked for once; a failure is explained once with the button that
fits its cause; the finished status message points at the video. Texts in both languages.
"""

from __future__ import annotations

from typing import Any

from bot.runtime import BotRuntime
from bot.testing.bot_api import FakeBotApi
from bot.testing.bot_api.wire import Call
from bot.testing.providers.evolink import EvolinkFake
from bot.testing.sample_media import make_sample_photo
from bot.texts import raw
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import buttons, is_options_message, press

Json = dict[str, Any]


async def _options(
    tg: FakeBotApi, caption: str | None, *, lang: str = "en", size: tuple[int, int] = (640, 480)
) -> tuple[Json, int]:
    """The user sends a photo; returns the photo and the id of the bot's options message."""
    photo = tg.user_photo(USER, USER, make_sample_photo(*size), caption, language_code=lang)
    await tg.wait_call(
        "sendMessage",
        lambda c: (
            (c.params.get("reply_parameters") or {}).get("message_id") == photo["message_id"]
            and "g|" in str(c.params.get("reply_markup"))
        ),
    )
    for msg in tg.bot_messages(USER):
        if (msg.get("reply_to_message") or {}).get("message_id") == photo["message_id"] and any(
            b["callback_data"].startswith("g|") for b in buttons(msg.get("reply_markup"))
        ):
            return photo, int(msg["message_id"])
    raise AssertionError("no options message")


def _labels(tg: FakeBotApi, message_id: int) -> list[list[str]]:
    markup = (tg.message(USER, message_id) or {}).get("reply_markup") or {}
    return [[b["text"] for b in row] for row in markup.get("inline_keyboard", [])]


def _text(tg: FakeBotApi, message_id: int) -> str:
    return str((tg.message(USER, message_id) or {}).get("text", ""))


async def _press_and_wait(tg: FakeBotApi, message_id: int, label: str, shows: str) -> None:
    await press(tg, USER, USER, message_id, label)
    await tg.wait_until(lambda: shows in str(_labels(tg, message_id)) + _text(tg, message_id))


async def test_options_say_what_you_get_and_what_each_choice_adds(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot():
        _, msg_id = await _options(tg, "the cat turns its head")
        text = _text(tg, msg_id)
        assert text.splitlines()[0] == "🎬 Video options: Normal · 6 s · SD 480p"
        assert "Model: Grok Imagine · usually about 2 min" in text
        assert "Price: 1 credit · Your balance: 5" in text
        rows = _labels(tg, msg_id)
        assert rows[-2:] == [["▶️ Generate · 1 credit"], ["✖️ Cancel"]]  # Generate alone
        assert ["6 s", "10 s +1"] == [label.removeprefix("✅ ") for label in rows[2]]
        assert ["SD 480p", "HD 720p +1"] == [label.removeprefix("✅ ") for label in rows[3]]
        assert all(len(row) <= 3 for row in rows)
        # HappyHorse: its wait is said before anyone pays
        await _press_and_wait(tg, msg_id, "HappyHorse", "can take up to 40 min")
        assert "▶️ Generate · 2 credits" in str(_labels(tg, msg_id))


async def test_russian_options_are_russian(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot():
        _, msg_id = await _options(tg, "кот поворачивает голову", lang="ru")
        text = _text(tg, msg_id)
        assert text.splitlines()[0] == "🎬 Настройки видео: Обычный · 6 с · SD 480p"
        assert "Модель: Grok Imagine · обычно около 2 мин" in text
        assert "Цена: 1 кредит · ваш баланс: 5" in text
        assert _labels(tg, msg_id)[-2:] == [["▶️ Создать · 1 кредит"], ["✖️ Отмена"]]


async def test_switching_model_restores_its_defaults_and_the_price(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot():
        _, msg_id = await _options(tg, "waves")
        await _press_and_wait(tg, msg_id, "HD 720p", "✅ HD 720p")
        assert "▶️ Generate · 2 credits" in str(_labels(tg, msg_id))
        await _press_and_wait(tg, msg_id, "HappyHorse", "✅ HappyHorse")
        await _press_and_wait(tg, msg_id, "Grok", "✅ Grok")
        # back on Grok: its own default (SD), not the 720p chosen before, and 1 credit again
        assert "✅ SD 480p" in str(_labels(tg, msg_id))
        assert "▶️ Generate · 1 credit" in str(_labels(tg, msg_id))


async def test_a_small_photo_is_warned_about_and_the_model_it_does_not_fit_is_marked(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot():
        _, msg_id = await _options(tg, "waves", size=(240, 180))
        assert "This photo is small (240×180)" in _text(tg, msg_id)
        assert ["✅ Grok Imagine", "⚠️ HappyHorse 1.0"] == _labels(tg, msg_id)[0]
        # choosing it anyway: the options say why it will not work, before any Generate
        await _press_and_wait(tg, msg_id, "HappyHorse", "needs at least 300 px")
        # a normal photo: no warning, no mark
        _, other = await _options(tg, "waves", size=(960, 640))
        assert "small" not in _text(tg, other)
        assert ["✅ Grok Imagine", "HappyHorse 1.0"] == _labels(tg, other)[0]


async def test_a_required_description_is_asked_for_once(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot():
        _, msg_id = await _options(tg, None)
        ask = await tg.wait_call("sendMessage", lambda c: "force_reply" in str(c.params))
        placeholder = ask.params["reply_markup"]["input_field_placeholder"]
        assert placeholder == raw("en", "prompt_placeholder") and len(placeholder) <= 64
        assert "Description: needed: reply to this message" in _text(tg, msg_id)
        query = await press(tg, USER, USER, msg_id, "Generate")
        answer = await tg.wait_call(
            "answerCallbackQuery", lambda c: c.params["callback_query_id"] == query
        )
        assert answer.params["text"] == raw("en", "need_description_alert")
        # the question is sent before the press is answered, so a second one would be here now
        asks = [c for c in tg.calls_of("sendMessage") if "force_reply" in str(c.params)]
        assert len(asks) == 1
        assert evolink.requests_to("create") == []


async def _generate(tg: FakeBotApi, evolink: EvolinkFake, caption: str | None) -> int:
    _, msg_id = await _options(tg, caption)
    if caption is None:  # HappyHorse needs no description
        await _press_and_wait(tg, msg_id, "HappyHorse", "✅ HappyHorse")
    await press(tg, USER, USER, msg_id, "Generate")
    await evolink.wait_task()
    return msg_id


async def _told(runtime: BotRuntime, status_message_id: int) -> None:
    """Wait until the job was told its outcome (the bot records that after the last message)."""
    assert runtime.ctx is not None
    store = runtime.ctx.store

    async def told() -> bool:
        job = next(j for j in await store.recent_for_user(USER))
        return job.status_message_id == status_message_id and job.told_at is not None

    for _ in range(400):
        if await told():
            return
        await runtime.ctx.messenger.bot.get_me()  # one round trip to the fake, then look again
    raise AssertionError("the job was never told its outcome")


def _failure_messages(tg: FakeBotApi, word: str) -> list[Call]:
    return [c for c in tg.calls_of("sendMessage") if word in c.params.get("text", "")]


async def test_a_refusal_is_explained_once_with_a_new_description_button(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        msg_id = await _generate(tg, evolink, "something odd")
        [task] = list(evolink.tasks.values())
        evolink.fail(task.id, "content_policy_violation", "Content policy violation.")
        await tg.wait_call("sendMessage", lambda c: "content rules" in c.params.get("text", ""))
        await _told(runtime, msg_id)
        [failure] = _failure_messages(tg, "content rules")
        assert "Change the description or send another photo" in failure.params["text"]
        assert "provider" not in failure.params["text"]
        labels = [b["text"] for b in buttons(failure.params["reply_markup"])]
        assert labels == ["✍️ New description"]
        # the status message only points at it, without repeating it
        assert _text(tg, msg_id) == "❌ Failed. Details below."
        failure_id = next(
            int(m["message_id"]) for m in tg.bot_messages(USER) if "content rules" in m["text"]
        )
        await press(tg, USER, USER, failure_id, "New description")
        new_options = await tg.wait_call(
            "sendMessage", lambda c: is_options_message(c) and c.at > failure.at
        )
        assert "something odd" in new_options.params["text"]  # reply to it to change it
        assert len(evolink.requests_to("create")) == 1  # nothing was charged or started again


async def test_a_passing_failure_offers_try_again(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        msg_id = await _generate(tg, evolink, "waves")
        [task] = list(evolink.tasks.values())
        evolink.fail(task.id, "service_error", "Service error, please retry later.")
        await tg.wait_call("sendMessage", lambda c: "had a problem" in c.params.get("text", ""))
        await _told(runtime, msg_id)
        [failure] = _failure_messages(tg, "had a problem")
        assert [b["text"] for b in buttons(failure.params["reply_markup"])] == ["🔁 Try again"]


async def test_a_video_without_description_and_the_done_pointer(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot():
        msg_id = await _generate(tg, evolink, None)
        [task] = list(evolink.tasks.values())
        evolink.succeed(task.id)
        video = await tg.wait_call("sendVideo", timeout=20)
        caption = video.params["caption"]
        assert "🎬 🎬" not in caption and caption.startswith("🎬 <i>HappyHorse 1.0 · 5 s")
        again = [b["text"] for b in buttons(video.params["reply_markup"])]
        # HappyHorse runs with a seed, so "Again, same seed" gets its own row (issue 11).
        assert again == ["🔁 Again · 2 credits", "⚙️ Change options", "🎲 Again, same seed"]
        await tg.wait_until(lambda: "Done" in _text(tg, msg_id))
        assert _text(tg, msg_id).startswith("✅ Done! The video is below.")


async def test_spicy_shows_its_18_plus_notice_once(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot():
        _, msg_id = await _options(tg, "waves")
        first = await press(tg, USER, USER, msg_id, "Spicy")
        notice = await tg.wait_call(
            "answerCallbackQuery", lambda c: c.params["callback_query_id"] == first
        )
        assert notice.params["text"] == raw("en", "spicy_notice")
        assert notice.params["show_alert"] is True
        await tg.wait_until(lambda: "✅ Spicy" in str(_labels(tg, msg_id)))
        await _press_and_wait(tg, msg_id, "Fun", "✅ Fun")
        again = await press(tg, USER, USER, msg_id, "Spicy")
        second = await tg.wait_call(
            "answerCallbackQuery", lambda c: c.params["callback_query_id"] == again
        )
        assert not second.params.get("text")  # told once is enough
