"""Quiet groups: the owner named, no balances, a folded keyboard, helper messages removed.

Alice asks for a video of Bob's photo with `/video`; everything the bot posts names Alice and
never shows anyone's balance; the options sit behind one "⚙️ Options" button; Spicy is hidden
unless SPICY_IN_GROUPS is set; the answered question and a cancelled draft disappear.
"""

from __future__ import annotations

from typing import Any

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from bot.testing.sample_media import make_sample_photo
from tests.conftest import OTHER_USER, USER, BotFactory
from tests.e2e_helpers import buttons, press

GROUP = -1001500000009
Json = dict[str, Any]


def _labels(tg: FakeBotApi, message_id: int) -> list[str]:
    return [b["text"] for b in buttons((tg.message(GROUP, message_id) or {}).get("reply_markup"))]


async def _alice_asks(tg: FakeBotApi, command: str, lang: str = "en") -> tuple[Json, int]:
    """Bob posts a photo, Alice (USER) replies `/video ...`; returns the photo and options id."""
    photo = tg.user_photo(
        GROUP, OTHER_USER, make_sample_photo(960, 640), "our cat", chat_type="supergroup",
        first_name="Bob",
    )  # fmt: skip
    tg.user_text(
        GROUP, USER, command, reply_to=photo["message_id"], chat_type="supergroup",
        first_name="Alice", language_code=lang,
    )  # fmt: skip
    call = await tg.wait_call(
        "sendMessage",
        lambda c: c.params["chat_id"] == GROUP and "g|" in str(c.params.get("reply_markup")),
    )
    for msg in tg.bot_messages(GROUP):
        if msg.get("text") and any(
            b["callback_data"].startswith("g|") for b in buttons(msg.get("reply_markup"))
        ):
            return photo, int(msg["message_id"])
    raise AssertionError(f"no options message for {call.params}")


async def test_the_options_name_the_owner_hide_the_balance_and_fold(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot():
        _, msg_id = await _alice_asks(tg, "/video the cat waves")
        text = str((tg.message(GROUP, msg_id) or {})["text"])
        assert text.startswith("🎬 Video for Alice: Normal · 6 s · SD 480p")
        assert "balance" not in text.lower()
        assert _labels(tg, msg_id) == ["⚙️ Options", "✖️ Cancel", "▶️ Generate · 1 credit"]
        await press(tg, GROUP, USER, msg_id, "Options")
        await tg.wait_until(lambda: "10 s +1" in _labels(tg, msg_id))
        assert not any("Spicy" in label for label in _labels(tg, msg_id))  # 18+: not here
        # the status message names her too, and never a balance
        await press(tg, GROUP, USER, msg_id, "Generate")
        await evolink.wait_task()
        await tg.wait_until(lambda: "for Alice" in str((tg.message(GROUP, msg_id) or {})["text"]))


async def test_spicy_is_offered_in_groups_only_when_the_operator_says_so(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot(SPICY_IN_GROUPS="true"):
        _, msg_id = await _alice_asks(tg, "/video the cat waves")
        await press(tg, GROUP, USER, msg_id, "Options")
        await tg.wait_until(lambda: "🔞 Spicy" in _labels(tg, msg_id))


async def test_a_forged_spicy_press_in_a_group_changes_nothing(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot():
        _, msg_id = await _alice_asks(tg, "/video the cat waves")
        job_id = tg.message(GROUP, msg_id)["reply_markup"]["inline_keyboard"][0][0][  # type: ignore[index]
            "callback_data"
        ].split("|")[1]
        query = tg.user_click(GROUP, USER, msg_id, f"o|{job_id}|mode|spicy", force=True)
        answer = await tg.wait_call(
            "answerCallbackQuery", lambda c: c.params["callback_query_id"] == query
        )
        assert "expired" in answer.params["text"]
        assert "Spicy" not in str((tg.message(GROUP, msg_id) or {})["text"])


async def test_russian_group_texts(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot():
        _, msg_id = await _alice_asks(tg, "/video кот машет лапой", lang="ru")
        text = str((tg.message(GROUP, msg_id) or {})["text"])
        assert text.startswith("🎬 Видео для Alice: Обычный · 6 с · SD 480p")
        assert "баланс" not in text
        assert _labels(tg, msg_id) == ["⚙️ Настройки", "✖️ Отмена", "▶️ Создать · 1 кредит"]


async def test_the_answered_question_and_a_cancelled_draft_are_removed(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot():
        _, msg_id = await _alice_asks(tg, "/video")  # Bob's caption is used: "our cat"
        assert "our cat" in str((tg.message(GROUP, msg_id) or {})["text"])
        photo2 = tg.user_photo(
            GROUP, OTHER_USER, make_sample_photo(640, 480), None, chat_type="supergroup",
            first_name="Bob",
        )  # fmt: skip
        tg.user_text(
            GROUP, USER, "/video", reply_to=photo2["message_id"], chat_type="supergroup",
            first_name="Alice",
        )  # fmt: skip
        ask = await tg.wait_call(
            "sendMessage",
            lambda c: c.params["chat_id"] == GROUP and "force_reply" in str(c.params),
        )
        ask_id = next(
            int(m["message_id"]) for m in tg.bot_messages(GROUP) if m["text"] == ask.params["text"]
        )
        tg.user_text(
            GROUP, USER, "the cat jumps", reply_to=ask_id, chat_type="supergroup",
            first_name="Alice",
        )  # fmt: skip
        await tg.wait_until(lambda: tg.message(GROUP, ask_id) is None)  # answered: removed
        # Cancel on the first draft: its options message goes too
        await press(tg, GROUP, USER, msg_id, "Cancel")
        await tg.wait_until(lambda: tg.message(GROUP, msg_id) is None)
        left = [m["text"] for m in tg.bot_messages(GROUP)]
        assert len(left) == 1 and "the cat jumps" in left[0]  # only the live draft remains
