"""How people send photos from phones, end to end against the fake Bot API and fake evolink.

Every input kind a phone produces: a photo, an uncompressed image sent as a file (JPEG, PNG,
WebP, HEIC; HEIC refused clearly when no decoder is available), a forwarded photo, an album, no
caption (ForceReply question), a reply that changes the prompt, and the refusals that must come
before any download or credit: files over 20 MB, files that are not images, photos too small or
too elongated for the chosen model. In a private chat every kind of message gets an answer.
"""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
import pytest
from PIL import ExifTags, Image

import bot.media.photos
from bot.models import Job
from bot.runtime import BotRuntime
from bot.telegram import keyboards
from bot.telegram.messenger import MAX_PHOTO_DOWNLOAD
from bot.testing.bot_api import FakeBotApi
from bot.testing.bot_api.wire import Call
from bot.testing.providers.evolink import EvolinkFake
from bot.testing.sample_media import make_sample_photo
from bot.texts import raw, t
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import buttons, is_options_message, options_message_id, press
from tests.idle_barrier import wait_idle

Json = dict[str, Any]


# ---- helpers ------------------------------------------------------------------------------
def _image(width: int, height: int, fmt: str, **save: Any) -> bytes:
    """The sample photo re-encoded as `fmt` (HEIF through pillow-heif)."""
    with Image.open(io.BytesIO(make_sample_photo(width, height))) as img:
        out = io.BytesIO()
        img.save(out, format=fmt, **save)
        return out.getvalue()


def _replies_to(message_id: int) -> Any:
    return lambda c: (c.params.get("reply_parameters") or {}).get("message_id") == message_id


async def _options_for(tg: FakeBotApi, chat_id: int, message_id: int) -> Call:
    """The options message the bot sends in reply to the user's message `message_id`."""
    return await tg.wait_call(
        "sendMessage",
        lambda c: (
            c.params["chat_id"] == chat_id and is_options_message(c) and _replies_to(message_id)(c)
        ),
    )


async def _draft(runtime: BotRuntime, options: Call) -> Job:
    """The draft an options message belongs to (its buttons carry the job id)."""
    assert runtime.ctx is not None
    action = keyboards.parse(buttons(options.params["reply_markup"])[-1]["callback_data"])
    assert action is not None
    job = await runtime.ctx.store.get(action.job_id)
    assert job is not None
    return job


async def _ledger_kinds(runtime: BotRuntime) -> list[str]:
    """Every ledger row's kind, whoever it belongs to."""
    rows = await runtime.db.fetchall("SELECT kind FROM ledger ORDER BY id")
    return [str(r[0]) for r in rows]


def _bot_message_id(tg: FakeBotApi, chat_id: int, text: str) -> int:
    """The id of the bot's message whose (plain) text is `text`."""
    for msg in tg.bot_messages(chat_id):
        if msg.get("text") == text:
            return int(msg["message_id"])
    raise AssertionError(f"no bot message {text!r}")


def _options_texts(tg: FakeBotApi, chat_id: int) -> list[Call]:
    return [
        c
        for c in tg.calls_of("sendMessage")
        if c.params["chat_id"] == chat_id and (is_options_message(c))
    ]


# ---- photos and image files ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "mime", "name"),
    [
        ("JPEG", "image/jpeg", "IMG_0001.JPG"),
        ("PNG", "image/png", "Screenshot.png"),
        ("WEBP", "image/webp", "sticker-like.webp"),
        ("HEIF", "image/heic", "IMG_0002.HEIC"),
        # desktop clients sometimes send no useful MIME type: the file name decides
        ("JPEG", "application/octet-stream", "DSC_0003.jpeg"),
    ],
)
async def test_uncompressed_image_file_gets_the_options_message(
    tg: FakeBotApi, start_bot: BotFactory, fmt: str, mime: str, name: str
) -> None:
    data = _image(800, 600, fmt)
    async with start_bot() as runtime:
        sent = tg.user_document(USER, USER, data, name, mime, "the leaves move in the wind")
        options = await _options_for(tg, USER, sent["message_id"])
        assert "the leaves move in the wind" in options.params["text"]
        draft = await _draft(runtime, options)
        # decoded at full size from the file itself, not from Telegram's thumbnail
        assert (draft.photo_width, draft.photo_height) == (800, 600)
        assert draft.photo_file_id == sent["document"]["file_id"]
        assert [c.params["file_id"] for c in tg.calls_of("getFile")] == [draft.photo_file_id]


async def test_heic_without_a_decoder_is_refused_clearly(
    tg: FakeBotApi, start_bot: BotFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.media.photos, "HEIF_SUPPORTED", False)
    async with start_bot() as runtime:
        sent = tg.user_document(USER, USER, _image(640, 480, "HEIF"), "IMG.HEIC", "image/heic")
        reply = await tg.wait_call("sendMessage", _replies_to(sent["message_id"]))
        assert reply.params["text"] == t("en", "photo_unsupported")
        assert "JPEG" in reply.params["text"]  # says what to send instead
        await wait_idle(tg, runtime)  # nothing more comes later
        assert _options_texts(tg, USER) == []


async def test_exif_rotation_applied_and_gps_never_reaches_the_provider(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # the phone was held upright: shown as 480x640
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (55.0, 45.0, 21.0),
    }
    data = _image(640, 480, "JPEG", exif=exif)
    async with start_bot() as runtime:
        sent = tg.user_document(USER, USER, data, "IMG_0004.JPG", "image/jpeg", "she waves")
        options = await _options_for(tg, USER, sent["message_id"])
        msg_id = options_message_id(tg, USER, options)
        draft = await _draft(runtime, options)
        assert (draft.photo_width, draft.photo_height) == (480, 640)
        await press(tg, USER, USER, msg_id, "Generate")
        create = await evolink.wait_request("/v1/videos/generations")
        await evolink.wait_task()
        check = evolink.image_checks[-1]
        assert check.ok and (check.width, check.height) == (480, 640)
        async with httpx.AsyncClient() as client:
            hosted = await client.get(create.json["image_urls"][0])
        assert hosted.status_code == 200
        with Image.open(io.BytesIO(hosted.content)) as img:
            assert img.size == (480, 640)
            assert dict(img.getexif()) == {}
        assert b"Exif" not in hosted.content and b"GPS" not in hosted.content


async def test_photo_sent_as_photo_uses_the_largest_size(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        sent = tg.user_photo(USER, USER, make_sample_photo(1024, 768), "clouds drift")
        options = await _options_for(tg, USER, sent["message_id"])
        draft = await _draft(runtime, options)
        assert draft.photo_file_id == sent["photo"][-1]["file_id"]
        assert (draft.photo_width, draft.photo_height) == (1024, 768)


async def test_forwarded_photo_is_used_like_any_photo(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot():
        sent = tg.user_photo(USER, USER, make_sample_photo(), "the boat sails", forward=True)
        assert "forward_origin" in sent
        options = await _options_for(tg, USER, sent["message_id"])
        await press(tg, USER, USER, options_message_id(tg, USER, options), "Generate")
        create = await evolink.wait_request("/v1/videos/generations")
        assert create.json["prompt"] == "the boat sails"


async def test_album_gets_one_options_message_for_its_first_photo(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        first = tg.user_photo(
            USER, USER, make_sample_photo(640, 480), "birds fly", media_group_id="1311"
        )
        for size in ((800, 600), (320, 240)):
            tg.user_photo(USER, USER, make_sample_photo(*size), media_group_id="1311")
        options = await _options_for(tg, USER, first["message_id"])
        assert raw("en", "options_album") in options.params["text"]
        assert "birds fly" in options.params["text"]
        draft = await _draft(runtime, options)
        assert (draft.photo_width, draft.photo_height) == (640, 480)
        # an album without a caption: one options message and one prompt question, not three
        second = tg.user_photo(USER, USER, make_sample_photo(640, 480), media_group_id="1312")
        for _ in range(2):
            tg.user_photo(USER, USER, make_sample_photo(320, 240), media_group_id="1312")
        await _options_for(tg, USER, second["message_id"])
        await tg.wait_call("sendMessage", lambda c: c.params["text"] == t("en", "ask_prompt"))
        # a later photo's options come after anything the album's other photos could cause
        later = tg.user_photo(USER, USER, make_sample_photo(), "later")
        await _options_for(tg, USER, later["message_id"])
        assert len(_options_texts(tg, USER)) == 3
        await wait_idle(tg, runtime)  # nothing more comes later
        asks = [c for c in tg.calls_of("sendMessage") if c.params["text"] == t("en", "ask_prompt")]
        assert len(asks) == 1
        assert len(tg.calls_of("getFile")) == 3


async def test_no_caption_asks_with_force_reply_and_the_reply_becomes_the_prompt(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot():
        sent = tg.user_photo(USER, USER, make_sample_photo(), None)
        options = await _options_for(tg, USER, sent["message_id"])
        msg_id = options_message_id(tg, USER, options)
        assert raw("en", "prompt_needed") in options.params["text"]
        ask = await tg.wait_call("sendMessage", lambda c: "force_reply" in str(c.params))
        assert ask.params["reply_markup"]["force_reply"] is True
        assert ask.params["text"] == t("en", "ask_prompt")  # grok needs a prompt
        ask_id = _bot_message_id(tg, USER, ask.params["text"])
        tg.user_text(USER, USER, "the dog wags its tail", reply_to=ask_id)
        edited = await tg.wait_call(
            "editMessageText",
            lambda c: c.params["message_id"] == msg_id and "wags" in c.params["text"],
        )
        assert "the dog wags its tail" in edited.params["text"]
        assert "Generate" in str(edited.params["reply_markup"])
        await press(tg, USER, USER, msg_id, "Generate")
        create = await evolink.wait_request("/v1/videos/generations")
        assert create.json["prompt"] == "the dog wags its tail"


async def test_reply_to_the_options_message_changes_the_prompt_before_generate(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot():
        sent = tg.user_photo(USER, USER, make_sample_photo(), "old prompt")
        options = await _options_for(tg, USER, sent["message_id"])
        msg_id = options_message_id(tg, USER, options)
        tg.user_text(USER, USER, "a <new> prompt & more", reply_to=msg_id)
        edited = await tg.wait_call("editMessageText", lambda c: c.params["message_id"] == msg_id)
        assert "a &lt;new&gt; prompt &amp; more" in edited.params["text"]
        assert "old prompt" not in edited.params["text"]
        await press(tg, USER, USER, msg_id, "Generate")
        create = await evolink.wait_request("/v1/videos/generations")
        assert create.json["prompt"] == "a <new> prompt & more"


# ---- refusals before any download or credit -----------------------------------------------
async def test_file_over_20_mb_is_refused_before_any_download(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    big = b"\x89PNG\r\n\x1a\n" + bytes(MAX_PHOTO_DOWNLOAD + 1)
    async with start_bot() as runtime:
        sent = tg.user_document(USER, USER, big, "panorama.png", "image/png", "pan")
        assert sent["document"]["file_size"] > MAX_PHOTO_DOWNLOAD
        reply = await tg.wait_call("sendMessage", _replies_to(sent["message_id"]))
        assert reply.params["text"] == t("en", "photo_too_big_file")
        assert "20 MB" in reply.params["text"]
        await wait_idle(tg, runtime, evolink)  # nothing more comes later
        assert tg.calls_of("getFile") == [] and tg.downloads == []
        assert evolink.requests == [] and await _ledger_kinds(runtime) == []


@pytest.mark.parametrize(
    ("data", "name", "mime"),
    [
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "invoice.pdf", "application/pdf"),
        (b"GIF89a\x01\x00\x01\x00\x80\x00\x00", "funny.gif", "image/gif"),
        (b"PK\x03\x04 not a photo", "photos.zip", "application/zip"),
    ],
)
async def test_file_that_is_not_a_usable_image_is_refused_without_download(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory, data: bytes, name: str, mime: str
) -> None:
    async with start_bot() as runtime:
        sent = tg.user_document(USER, USER, data, name, mime, "animate this")
        reply = await tg.wait_call("sendMessage", _replies_to(sent["message_id"]))
        assert reply.params["text"] == t("en", "not_an_image")
        await wait_idle(tg, runtime, evolink)  # nothing more comes later
        assert tg.calls_of("getFile") == [] and evolink.requests == []


@pytest.mark.parametrize(
    ("size", "expected"),
    [((200, 200), ("200", "300")), ((1200, 400), ("3.0", "2.5"))],
    ids=["too-small", "too-elongated"],
)
async def test_photo_that_does_not_fit_the_chosen_model_is_refused_at_generate(
    tg: FakeBotApi,
    evolink: EvolinkFake,
    start_bot: BotFactory,
    size: tuple[int, int],
    expected: tuple[str, str],
) -> None:
    async with start_bot() as runtime:
        sent = tg.user_photo(USER, USER, make_sample_photo(*size), "it moves")
        options = await _options_for(tg, USER, sent["message_id"])
        msg_id = options_message_id(tg, USER, options)
        draft = await _draft(runtime, options)
        assert draft.model == "grok"  # the first model that fits this photo
        await press(tg, USER, USER, msg_id, "HappyHorse")  # needs ≥ 300 px and ratio ≤ 2.5
        await tg.wait_call(
            "editMessageText",
            lambda c: c.params["message_id"] == msg_id and "HappyHorse" in c.params["text"],
        )
        query_id = await press(tg, USER, USER, msg_id, "Generate")
        answer = await tg.wait_call(
            "answerCallbackQuery", lambda c: c.params["callback_query_id"] == query_id
        )
        assert answer.params["show_alert"] is True
        assert all(part in answer.params["text"] for part in expected)
        assert "HappyHorse" in answer.params["text"]
        await wait_idle(tg, runtime, evolink)  # nothing more comes later
        assert evolink.requests_to("create") == []
        assert "reserve" not in await _ledger_kinds(runtime)
        # the same draft still works with the model that fits
        await press(tg, USER, USER, msg_id, "Grok")
        await tg.wait_call(
            "editMessageText",
            lambda c: c.params["message_id"] == msg_id and "HappyHorse" not in c.params["text"],
        )
        await press(tg, USER, USER, msg_id, "Generate")
        create = await evolink.wait_request("/v1/videos/generations")
        assert create.json["model"] == "grok-imagine-image-to-video"


# ---- a private chat is never silent -------------------------------------------------------
def _push_private(tg: FakeBotApi, fields: Json) -> None:
    """A message kind the fake has no helper for (sticker, voice, location...), from USER."""
    user = tg.world.user(USER, "Alice", "en")
    chat = tg.world.chat(USER, "private", user, forum=False)
    stored = tg.world.add_message(chat, {"from": user, "date": int(time.time()), **fields})
    tg.push_update({"message": stored})


async def test_every_kind_of_private_message_gets_an_answer(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    file = {"file_id": "AwACAgIAAxkBAAIfake", "file_unique_id": "AgADfake"}
    async with start_bot():
        hint = tg.user_text(USER, USER, "make me a video")
        _push_private(tg, {"sticker": {**file, "width": 512, "height": 512, "is_animated": False,
                                       "is_video": False, "type": "regular"}})  # fmt: skip
        _push_private(tg, {"video": {**file, "width": 640, "height": 360, "duration": 3}})
        _push_private(tg, {"voice": {**file, "duration": 2}})
        _push_private(tg, {"location": {"latitude": 55.75, "longitude": 37.62}})
        _push_private(tg, {"contact": {"phone_number": "+100000", "first_name": "Bob"}})
        tg.user_command(USER, USER, "video")  # not a reply to a photo
        tg.user_text(USER, USER, "this is a reply", reply_to=hint["message_id"])
        tg.user_command(USER, USER, "frobnicate")
        await tg.wait_until(lambda: len(tg.calls_of("sendMessage")) >= 9)
        texts = sorted(c.params["text"] for c in tg.calls_of("sendMessage"))
        assert texts == sorted([t("en", "need_photo")] * 8 + [t("en", "unknown_command")])
        assert all("Traceback" not in c.params["text"] for c in tg.calls_of("sendMessage"))


async def test_video_command_replying_to_a_photo_in_private(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot():
        photo = tg.user_photo(USER, USER, make_sample_photo(), "/video the flag waves")
        options = await _options_for(tg, USER, photo["message_id"])
        assert "the flag waves" in options.params["text"]
        assert "/video" not in options.params["text"]
        tg.user_text(USER, USER, "/video the flag burns", reply_to=photo["message_id"])
        second = await tg.wait_call(
            "sendMessage", lambda c: is_options_message(c) and "burns" in c.params["text"]
        )
        await press(tg, USER, USER, options_message_id(tg, USER, second), "Generate")
        create = await evolink.wait_request("/v1/videos/generations")
        assert create.json["prompt"] == "the flag burns"


async def test_editing_a_caption_does_not_start_a_second_draft(
    tg: FakeBotApi, start_bot: BotFactory
) -> None:
    async with start_bot():
        sent = tg.user_photo(USER, USER, make_sample_photo(), "first words")
        await _options_for(tg, USER, sent["message_id"])
        edited = {**sent, "caption": "second words", "edit_date": int(time.time())}
        edited.pop("caption_entities", None)
        tg.push_update({"edited_message": edited})
        # a later photo's options come after anything the edit could cause
        later = tg.user_photo(USER, USER, make_sample_photo(), "later")
        await _options_for(tg, USER, later["message_id"])
        assert len(tg.calls_of("sendMessage")) == 2
        assert len(tg.calls_of("getFile")) == 2
