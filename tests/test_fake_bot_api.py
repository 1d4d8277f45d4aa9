"""The fake Bot API: realism guard (every shape through PTB's de_json) and its behaviour.

Every result and update the fake can produce is parsed by python-telegram-bot 22 and must leave no
unknown field behind (`api_kwargs == {}` on every nested object). The rest drives the fake with a
real `telegram.Bot` or raw HTTP and checks the Bot API's documented answers and error bodies.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import aiohttp
import pytest
import telegram
from aiohttp import web
from PIL import Image
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, TelegramObject

from bot.testing.bot_api import FakeBotApi

Json = dict[str, Any]
TOKEN = "424242:fake-bot-api-test-token"
USER = 501
OTHER = 502
GROUP = -1001234567890
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
KEYBOARD = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
# The start of an MP4 with a sound track (an `hdlr` box of type `soun`): Telegram keeps it a video.
MP4_WITH_SOUND = b"\0\0\0\x18ftypmp42" + b"\0\0\0\x21hdlr" + bytes(8) + b"soun" + bytes(13)


def image(width: int, height: int, fmt: str = "JPEG", color: str = "teal") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, fmt)
    return buffer.getvalue()


def stray_fields(obj: TelegramObject, path: str = "") -> list[str]:
    """Unknown fields left in `api_kwargs` anywhere inside a parsed object."""
    found = [f"{path or type(obj).__name__}: {sorted(obj.api_kwargs)}"] if obj.api_kwargs else []
    for cls in type(obj).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if slot.startswith("_") or slot == "api_kwargs":
                continue
            stack = [getattr(obj, slot, None)]
            while stack:
                value = stack.pop()
                if isinstance(value, tuple | list):
                    stack.extend(value)
                elif isinstance(value, TelegramObject):
                    found += stray_fields(value, f"{path}.{slot}")
    return found


def parses_cleanly(cls: Any, data: Any) -> Any:
    obj = cls.de_json(data, None)
    assert isinstance(obj, TelegramObject)
    assert stray_fields(obj) == [], stray_fields(obj)
    return obj


def form(params: Json) -> dict[str, str]:
    """Encode like PTB: every value a string, objects as JSON."""
    out = {}
    for key, value in params.items():
        if isinstance(value, bool):
            out[key] = str(value).lower()
        elif isinstance(value, dict | list):
            out[key] = json.dumps(value)
        else:
            out[key] = str(value)
    return out


Api = Callable[..., Coroutine[Any, Any, tuple[int, Json]]]


@pytest.fixture(name="fake")
async def _fake() -> AsyncIterator[FakeBotApi]:
    api = FakeBotApi(TOKEN, webhook_retry_delays=(0.01, 0.01))
    await api.start()
    yield api
    await api.stop()


@pytest.fixture(name="api")
async def _api(fake: FakeBotApi) -> AsyncIterator[Api]:
    """POST a Bot API method as a form; returns (status, body)."""
    async with aiohttp.ClientSession() as session:

        async def call(method: str, **params: Any) -> tuple[int, Json]:
            url = f"{fake.base_url}/bot{TOKEN}/{method}"
            async with session.post(url, data=form(params)) as response:
                return response.status, await response.json()

        yield call


@pytest.fixture(name="bot")
async def _bot(fake: FakeBotApi) -> AsyncIterator[telegram.Bot]:
    bot = telegram.Bot(
        TOKEN, base_url=f"{fake.base_url}/bot", base_file_url=f"{fake.base_url}/file/bot"
    )
    async with bot:
        yield bot


@pytest.fixture(name="receiver")
async def _receiver(
    fake: FakeBotApi,
) -> AsyncIterator[tuple[str, list[web.Request], list[Json], list[int]]]:
    """A tiny webhook endpoint: (url, requests, bodies, statuses to answer in turn, then 200).

    Plain http:// on a loopback port: only a local Bot API server delivers there, so the fake
    behaves as one for the tests that use it.
    """
    fake.local_mode = True
    requests: list[web.Request] = []
    bodies: list[Json] = []
    statuses: list[int] = []

    async def hook(request: web.Request) -> web.Response:
        requests.append(request)
        bodies.append(await request.json())
        return web.Response(status=statuses.pop(0) if statuses else 200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", requests, bodies, statuses
    await runner.cleanup()


# --- realism guard ---------------------------------------------------------------------------


async def test_every_update_the_test_api_builds_parses_cleanly(fake: FakeBotApi, api: Api) -> None:
    photo = fake.user_photo(USER, USER, image(1600, 900), "make it /fly @somebody", forward=True)
    fake.user_command(USER, USER, "start", "ref42", mention=True)
    fake.user_text(USER, USER, "see https://example.com/x, #cats", reply_to=photo["message_id"])
    fake.user_photo(GROUP, OTHER, image(300, 500), chat_type="supergroup", media_group_id="77")
    fake.user_text(GROUP, OTHER, "in a topic", chat_type="supergroup", thread_id=10)
    fake.user_document(USER, USER, image(900, 600, "PNG"), "cat.png", "image/png", "as file")
    fake.user_document(USER, USER, b"%PDF-1.4 nothing", "cv.pdf", "application/pdf")
    _, sent = await api("sendMessage", chat_id=USER, text="pick", reply_markup=KEYBOARD)
    fake.user_click(USER, OTHER, sent["result"]["message_id"], "go")
    fake.push_update({"update_id": 5, "message": {"message_id": 99, "date": 1, "chat": {}}})

    status, body = await api("getUpdates", timeout=0)
    assert status == 200
    kinds = []
    for raw in body["result"][:-1]:
        update = parses_cleanly(telegram.Update, raw)
        kinds.append(update.effective_message is not None or update.callback_query is not None)
    assert len(kinds) == 8 and all(kinds)
    png_document = body["result"][5]["message"]["document"]
    assert png_document["thumbnail"]["width"] == 320 and png_document["file_name"] == "cat.png"
    assert "thumbnail" not in body["result"][6]["message"]["document"]
    first = telegram.Update.de_json(body["result"][0], None)
    assert first.message is not None
    assert [p.width for p in first.message.photo] == [90, 320, 800, 1280, 1600]
    assert [e.type for e in first.message.caption_entities] == ["bot_command", "mention"]
    query = telegram.Update.de_json(body["result"][7], None).callback_query
    assert query is not None and query.chat_instance and query.data == "go"
    assert query.message is not None and query.message.message_id == sent["result"]["message_id"]
    assert body["result"][-1]["update_id"] == 5  # raw updates pass through unchanged


async def test_every_result_the_fake_returns_parses_cleanly(
    fake: FakeBotApi, api: Api, receiver: tuple[str, list[web.Request], list[Json], list[int]]
) -> None:
    user_photo = fake.user_photo(USER, USER, image(640, 480))
    topic = fake.user_text(GROUP, OTHER, "hi", chat_type="supergroup", thread_id=3)
    fake.set_chat_admins(GROUP, {OTHER})
    url, _, _, statuses = receiver
    statuses.extend([500, 500, 500])
    thumb = ("t", image(320, 180), "thumb.jpg")
    results: list[tuple[Any, Json]] = []

    async def ok(cls: Any, method: str, **params: Any) -> Any:
        status, body = await api(method, **params)
        assert status == 200 and body["ok"] is True, body
        results.append((cls, body["result"]))
        return body["result"]

    async def upload(method: str, field: str, data: bytes, **params: Any) -> Json:
        payload = aiohttp.FormData(form(params))
        payload.add_field(field, data, filename=f"x.{field}", content_type="video/mp4")
        payload.add_field(thumb[0], thumb[1], filename=thumb[2], content_type="image/jpeg")
        async with aiohttp.ClientSession() as session:
            target = f"{fake.base_url}/bot{TOKEN}/{method}"
            async with session.post(target, data=payload) as response:
                body = await response.json()
        assert body["ok"] is True, body
        results.append((telegram.Message, body["result"]))
        return dict(body["result"])

    await ok(telegram.User, "getMe")
    text = "<b>bold</b> <i>it</i> <a href='https://x.org'>l</a> <code>c</code> <s>s</s>"
    sent = await ok(
        telegram.Message,
        "sendMessage",
        chat_id=USER,
        text=text,
        parse_mode="HTML",
        reply_markup=KEYBOARD,
        reply_parameters={"message_id": user_photo["message_id"]},
    )
    await ok(telegram.Message, "sendMessage", chat_id=GROUP, text="t", message_thread_id=3)
    await ok(telegram.Message, "sendMessage", chat_id=GROUP, text="r", reply_to_message_id=4)
    await ok(
        telegram.Message, "sendMessage", chat_id=USER, text="f", reply_markup={"force_reply": True}
    )
    await ok(
        telegram.Message,
        "editMessageText",
        chat_id=USER,
        message_id=sent["message_id"],
        text="<u>new</u>",
        parse_mode="HTML",
        reply_markup=KEYBOARD,
    )
    await ok(
        telegram.Message, "editMessageReplyMarkup", chat_id=USER, message_id=sent["message_id"]
    )
    video = await upload(
        "sendVideo",
        "video",
        MP4_WITH_SOUND,
        chat_id=USER,
        width=64,
        height=36,
        duration=2,
        caption="<b>v</b>",
        parse_mode="HTML",
        thumbnail="attach://t",
    )
    await upload(
        "sendAnimation", "animation", b"\0\0\0\x18ftypmp42", chat_id=USER, thumbnail="attach://t"
    )
    await upload("sendDocument", "document", b"doc", chat_id=USER, thumbnail="attach://t")
    await ok(telegram.Message, "sendPhoto", chat_id=USER, photo=user_photo["photo"][-1]["file_id"])
    await ok(
        telegram.Message,
        "editMessageCaption",
        chat_id=USER,
        message_id=video["message_id"],
        caption="new caption",
    )
    await ok(telegram.File, "getFile", file_id=video["video"]["file_id"])
    await ok(telegram.WebhookInfo, "getWebhookInfo")
    await ok(telegram.ChatFullInfo, "getChat", chat_id=GROUP)
    await ok(telegram.ChatFullInfo, "getChat", chat_id=USER)
    for user_id in (OTHER, USER, fake.world.bot_id):
        await ok(telegram.ChatMember, "getChatMember", chat_id=GROUP, user_id=user_id)
    await ok(None, "setMyCommands", commands=[{"command": "start", "description": "Start"}])
    commands = await api("getMyCommands")
    results += [(telegram.BotCommand, c) for c in commands[1]["result"]]
    await ok(None, "setWebhook", url=url, secret_token="s-1")
    fake.user_text(USER, USER, "to the webhook")
    await fake.wait_until(lambda: len(fake.webhook_deliveries) == 3)
    await ok(telegram.WebhookInfo, "getWebhookInfo")

    for cls, result in results:
        if cls is not None:
            parses_cleanly(cls, result)
    assert results[-1][1]["last_error_message"] == (
        "Wrong response from the webhook: 500 Internal Server Error"
    )
    assert topic["reply_to_message"]["forum_topic_created"]["name"]
    statuses_seen = [r[1]["status"] for r in results if r[0] is telegram.ChatMember]
    assert statuses_seen == ["administrator", "left", "member"]
    messages = [r for c, r in results if c is telegram.Message]
    assert [e["type"] for e in messages[0]["entities"]] == [
        "bold", "italic", "text_link", "code", "strikethrough"
    ]  # fmt: skip
    assert messages[0]["reply_to_message"]["photo"] == user_photo["photo"]
    assert messages[1]["reply_to_message"]["forum_topic_created"]
    assert "reply_markup" not in messages[3]  # ForceReply is never echoed in a Message
    assert "reply_markup" not in messages[5]  # editMessageReplyMarkup without markup drops it
    assert video["video"]["thumbnail"]["width"] == 320 and video["caption"] == "v"
    assert messages[7]["animation"]["file_id"] == messages[7]["document"]["file_id"]


# --- driven by the real python-telegram-bot -----------------------------------------------------


async def test_ptb_get_me_and_a_wrong_token(fake: FakeBotApi, bot: telegram.Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.username == "photo2video_bot" and me.id == fake.world.bot_id
    stranger = telegram.Bot("1:wrong", base_url=f"{fake.base_url}/bot")
    with pytest.raises(telegram.error.InvalidToken):
        await stranger.get_me()


async def test_ptb_keyboard_message_edit_and_not_modified(
    fake: FakeBotApi, bot: telegram.Bot
) -> None:
    fake.user_text(USER, USER, "hello")
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]])
    sent = await bot.send_message(USER, "Pick <b>one</b>", parse_mode="HTML", reply_markup=markup)
    assert sent.text == "Pick one" and sent.entities[0].type == "bold"
    assert sent.reply_markup == markup and sent.from_user and sent.from_user.is_bot

    edited = await bot.edit_message_text(
        "Picked <b>one</b>", USER, sent.message_id, parse_mode="HTML", reply_markup=markup
    )
    assert isinstance(edited, telegram.Message) and edited.edit_date is not None
    with pytest.raises(telegram.error.BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "Picked <b>one</b>", USER, sent.message_id, parse_mode="HTML", reply_markup=markup
        )
    await bot.edit_message_text("Picked <b>one</b>", USER, sent.message_id, parse_mode="HTML")
    stored = fake.message(USER, sent.message_id)
    assert stored is not None and "reply_markup" not in stored  # an edit without markup drops it
    assert fake.calls_of("editMessageText")[1].status == 400


async def test_ptb_get_file_and_download(fake: FakeBotApi, bot: telegram.Bot) -> None:
    message = fake.user_photo(USER, USER, image(2000, 1000, "PNG"), "go")
    largest = message["photo"][-1]
    file = await bot.get_file(largest["file_id"])
    data = await file.download_as_bytearray()
    assert bytes(data) == fake.file_bytes(largest["file_id"])
    with Image.open(io.BytesIO(bytes(data))) as picture:
        assert picture.format == "JPEG" and picture.size == (2000, 1000)
    assert file.file_path and file.file_path.startswith(f"{fake.base_url}/file/bot{TOKEN}/")
    assert fake.downloads == [file.file_path.rsplit(f"bot{TOKEN}/", 1)[1]]


async def test_ptb_send_video_keeps_dimensions_thumbnail_and_bytes(
    fake: FakeBotApi, bot: telegram.Bot
) -> None:
    origin = fake.user_text(USER, USER, "video please")
    payload = MP4_WITH_SOUND + bytes(range(256)) * 40
    sent = await bot.send_video(
        USER,
        payload,
        filename="out.mp4",
        width=720,
        height=1280,
        duration=6,
        supports_streaming=True,
        thumbnail=image(180, 320),
        caption="Done",
        reply_parameters=telegram.ReplyParameters(origin["message_id"]),
    )
    video = sent.video
    assert video is not None and (video.width, video.height) == (720, 1280)
    assert video.file_name == "out.mp4"
    assert (fake.message(USER, sent.message_id) or {})["video"]["duration"] == 6
    assert video.thumbnail is not None and (video.thumbnail.width, video.thumbnail.height) == (
        180,
        320,
    )
    assert fake.file_bytes(video.file_id) == payload
    assert sent.reply_to_message and sent.reply_to_message.message_id == origin["message_id"]
    call = await fake.wait_call("sendVideo")
    assert call.files["video"].data == payload and call.params["supports_streaming"] is True
    assert call.params["thumbnail"].startswith("attach://")

    again = await bot.send_video(USER, video.file_id)
    assert again.video and again.video.file_unique_id == video.file_unique_id
    with pytest.raises(telegram.error.BadRequest, match="Type of file mismatch"):
        await bot.send_document(USER, video.file_id)


async def test_ptb_injected_429_holds_until_retry_after_has_passed(
    fake: FakeBotApi, bot: telegram.Bot
) -> None:
    fake.user_text(USER, USER, "hi")
    fake.inject("sendMessage", retry_after=7)
    with pytest.raises(telegram.error.RetryAfter, match="Retry in 7 seconds"):
        await bot.send_message(USER, "first")
    # A retry before the 7 seconds are over is refused again (the clock, not a call counter).
    with pytest.raises(telegram.error.RetryAfter, match="Retry in 7 seconds"):
        await bot.send_message(USER, "too early")
    assert [c.status for c in fake.calls_of("sendMessage")] == [429, 429]
    assert fake.bot_messages(USER) == []


async def test_ptb_long_poll_returns_an_update_pushed_after_it_started(
    fake: FakeBotApi, bot: telegram.Bot
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30, read_timeout=40))
    await fake.wait_until(lambda: fake.waiting_polls == 1)
    pushed = fake.user_text(USER, USER, "/start")
    updates = await asyncio.wait_for(poll, 10)
    assert len(updates) == 1 and updates[0].message is not None
    assert updates[0].message.message_id == pushed["message_id"]
    assert updates[0].message.entities[0].type == "bot_command"
    # The next offset confirms it; nothing is left.
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()


async def test_ptb_webhook_delivery_carries_the_secret(
    fake: FakeBotApi,
    bot: telegram.Bot,
    receiver: tuple[str, list[web.Request], list[Json], list[int]],
) -> None:
    url, requests, bodies, _ = receiver
    queued = fake.user_text(USER, USER, "sent before the webhook")
    assert await bot.set_webhook(url, secret_token="sec_RET-1")
    fake.user_text(USER, USER, "sent after")
    await fake.wait_until(lambda: len(fake.webhook_deliveries) == 2)
    assert [r.headers["X-Telegram-Bot-Api-Secret-Token"] for r in requests] == ["sec_RET-1"] * 2
    assert bodies[0]["message"]["message_id"] == queued["message_id"]
    assert [status for _, status in fake.webhook_deliveries] == [200, 200]
    update = parses_cleanly(telegram.Update, bodies[1])
    assert update.message.text == "sent after"
    info = await bot.get_webhook_info()
    assert info.url == url and info.pending_update_count == 0
    with pytest.raises(telegram.error.Conflict, match="webhook is active"):
        await bot.get_updates(timeout=0)
    assert await bot.delete_webhook()
    assert fake.webhook_url is None and fake.webhook_secret is None


# --- routing and wire format ----------------------------------------------------------------


async def test_routing_errors_and_case_insensitive_methods(fake: FakeBotApi, api: Api) -> None:
    assert await api("sendSticker", chat_id=USER) == (
        400,
        {
            "ok": False,
            "error_code": 400,
            "description": "fake server does not implement sendSticker",
        },
    )
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{fake.base_url}/bot1:other/getMe") as response:
            assert response.status == 401
            assert await response.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
        async with session.get(f"{fake.base_url}/file/bot{TOKEN}/photos/nope.jpg") as response:
            assert response.status == 404
        async with session.get(f"{fake.base_url}/bot{TOKEN}/GETME?x=1") as response:
            assert (await response.json())["result"]["is_bot"] is True
    assert fake.calls[-1].method == "getMe"


async def test_json_bodies_and_coerced_form_values(fake: FakeBotApi, api: Api) -> None:
    fake.user_text(USER, USER, "hi")
    async with aiohttp.ClientSession() as session:
        body = {"chat_id": USER, "text": "json", "reply_markup": KEYBOARD}
        async with session.post(f"{fake.base_url}/bot{TOKEN}/sendMessage", json=body) as response:
            assert (await response.json())["result"]["reply_markup"] == KEYBOARD
    await api("sendMessage", chat_id=USER, text="123", disable_notification=True)
    params = fake.calls[-1].params
    assert params == {"chat_id": USER, "text": "123", "disable_notification": True}
    assert await api("sendMessage", chat_id=USER, text="x", reply_markup="{broken") == (
        400,
        {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: can't parse reply keyboard markup JSON object",
        },
    )


# --- messages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("é<blink>x</blink>", 'Unsupported start tag "blink" at byte offset 2'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
async def test_bad_html_is_refused_like_telegram(
    fake: FakeBotApi, api: Api, text: str, description: str
) -> None:
    fake.user_text(USER, USER, "hi")
    status, body = await api("sendMessage", chat_id=USER, text=text, parse_mode="HTML")
    assert status == 400
    assert body["description"] == f"Bad Request: can't parse entities: {description}"


async def test_html_becomes_plain_text_with_utf16_entities(fake: FakeBotApi, api: Api) -> None:
    fake.user_text(USER, USER, "hi")
    text = '👍 <b>a&amp;b</b> <pre><code class="language-py">x=1</code></pre> &lt;3'
    _, body = await api("sendMessage", chat_id=USER, text=text, parse_mode="HTML")
    message = body["result"]
    assert message["text"] == "👍 a&b x=1 <3"
    assert message["entities"] == [
        {"type": "bold", "offset": 3, "length": 3},
        {"type": "pre", "offset": 7, "length": 3, "language": "py"},
    ]


async def test_text_limits(fake: FakeBotApi, api: Api) -> None:
    fake.user_text(USER, USER, "hi")
    assert (await api("sendMessage", chat_id=USER, text="x" * 4096))[0] == 200
    assert (await api("sendMessage", chat_id=USER, text="x" * 4097))[1]["description"] == (
        "Bad Request: message is too long"
    )
    assert (await api("sendMessage", chat_id=USER, text="  "))[1]["description"] == (
        "Bad Request: message text is empty"
    )
    assert (await api("sendMessage", chat_id=99, text="x"))[1]["description"] == (
        "Bad Request: chat not found"
    )
    photo = fake.user_photo(USER, USER, image(50, 50))["photo"][-1]["file_id"]
    status, body = await api("sendPhoto", chat_id=USER, photo=photo, caption="c" * 1025)
    assert (status, body["description"]) == (400, "Bad Request: message caption is too long")


async def test_replies_threads_and_missing_targets(fake: FakeBotApi, api: Api) -> None:
    first = fake.user_text(GROUP, USER, "topic hi", chat_type="supergroup", thread_id=7)
    assert first["message_thread_id"] == 7 and first["is_topic_message"] is True
    assert first["reply_to_message"]["message_id"] == 7  # the topic's service message
    assert first["chat"]["is_forum"] is True

    _, body = await api(
        "sendMessage", chat_id=GROUP, text="r", reply_to_message_id=first["message_id"]
    )
    assert body["result"]["message_thread_id"] == 7  # a reply stays in its topic
    assert body["result"]["reply_to_message"]["message_id"] == first["message_id"]
    assert "reply_to_message" not in body["result"]["reply_to_message"]
    status, body = await api("sendMessage", chat_id=GROUP, text="t", message_thread_id=8)
    assert (status, body["description"]) == (400, "Bad Request: message thread not found")

    missing = {"message_id": 999}
    status, body = await api("sendMessage", chat_id=GROUP, text="x", reply_parameters=missing)
    assert (status, body["description"]) == (400, "Bad Request: message to be replied not found")
    lenient = {**missing, "allow_sending_without_reply": True}
    _, body = await api("sendMessage", chat_id=GROUP, text="x", reply_parameters=lenient)
    assert "reply_to_message" not in body["result"]


async def test_edit_and_delete_errors(fake: FakeBotApi, api: Api) -> None:
    user_message = fake.user_text(USER, USER, "hi")
    _, text = await api("sendMessage", chat_id=USER, text="t", reply_markup=KEYBOARD)
    text_id = text["result"]["message_id"]
    photo = fake.user_photo(USER, USER, image(40, 40))["photo"][0]["file_id"]
    _, media = await api("sendPhoto", chat_id=USER, photo=photo)
    media_id = media["result"]["message_id"]

    async def error(method: str, **params: Any) -> str:
        status, body = await api(method, chat_id=USER, **params)
        assert status == 400
        return str(body["description"]).removeprefix("Bad Request: ")

    assert await error("editMessageText", message_id=999, text="x") == "message to edit not found"
    uid = user_message["message_id"]
    assert await error("editMessageText", message_id=uid, text="x") == "message can't be edited"
    assert await error("editMessageText", message_id=media_id, text="x") == (
        "there is no text in the message to edit"
    )
    assert await error("editMessageCaption", message_id=text_id, caption="x") == (
        "there is no caption in the message to edit"
    )
    assert await error("editMessageReplyMarkup", message_id=text_id, reply_markup=KEYBOARD) == (
        NOT_MODIFIED.removeprefix("Bad Request: ")
    )
    assert await api("deleteMessage", chat_id=USER, message_id=text_id) == (
        200,
        {"ok": True, "result": True},
    )
    assert fake.message(USER, text_id) is None
    assert await error("deleteMessage", message_id=text_id) == "message to delete not found"
    with pytest.raises(ValueError, match="no bot message"):
        fake.user_click(USER, USER, text_id, "go")


async def test_callback_queries_are_answered_once(fake: FakeBotApi, api: Api) -> None:
    fake.user_text(USER, USER, "hi")
    _, sent = await api("sendMessage", chat_id=USER, text="t", reply_markup=KEYBOARD)
    message_id = sent["result"]["message_id"]
    with pytest.raises(ValueError, match="no button"):
        fake.user_click(USER, USER, message_id, "stale")
    forced = fake.user_click(USER, USER, message_id, "stale", force=True)
    query_id = fake.user_click(USER, USER, message_id, "go")
    assert forced != query_id
    assert await api("answerCallbackQuery", callback_query_id=query_id) == (
        200,
        {"ok": True, "result": True},
    )
    too_old = "Bad Request: query is too old and response timeout expired or query ID is invalid"
    for unknown in (query_id, "12345"):
        status, body = await api("answerCallbackQuery", callback_query_id=unknown)
        assert (status, body["description"]) == (400, too_old)
    assert fake.answered_callbacks == {query_id}


async def test_chat_actions_commands_and_blocked_users(
    fake: FakeBotApi, bot: telegram.Bot
) -> None:
    fake.user_text(USER, USER, "hi")
    assert await bot.send_chat_action(USER, "upload_video")
    with pytest.raises(telegram.error.BadRequest, match="Wrong parameter action"):
        await bot.send_chat_action(USER, "dancing")
    await bot.set_my_commands([("start", "Start"), ("help", "Help")], language_code="ru")
    assert [c.command for c in await bot.get_my_commands(language_code="ru")] == ["start", "help"]
    assert await bot.get_my_commands() == ()
    with pytest.raises(telegram.error.BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Start!", "bad")])
    fake.set_blocked(USER)
    with pytest.raises(telegram.error.Forbidden, match="blocked by the user"):
        await bot.send_message(USER, "still there?")


# --- files ----------------------------------------------------------------------------------


async def test_file_limits_and_kinds(fake: FakeBotApi, api: Api, bot: telegram.Bot) -> None:
    big = fake.user_document(USER, USER, bytes(20 * 1024 * 1024 + 1), "big.bin", "application/zip")
    status, body = await api("getFile", file_id=big["document"]["file_id"])
    assert (status, body["description"]) == (400, "Bad Request: file is too big")
    assert (await api("getFile", file_id="nope"))[1][
        "description"
    ] == "Bad Request: invalid file_id"

    photo = await bot.send_photo(USER, image(1000, 500, "PNG"))
    assert [(p.width, p.height) for p in photo.photo] == [
        (90, 45),
        (320, 160),
        (800, 400),
        (1000, 500),
    ]
    animation = await bot.send_animation(USER, b"GIF89a fake", filename="a.gif")
    assert animation.animation and animation.document
    assert animation.animation.file_id == animation.document.file_id
    with pytest.raises(telegram.error.BadRequest, match="Image_process_failed"):
        await bot.send_photo(USER, b"not an image")
    # Telegram ignores thumbnails that are not JPEG or larger than 320 px.
    for thumbnail in (image(100, 100, "PNG"), image(640, 360)):
        sent = await bot.send_video(USER, MP4_WITH_SOUND, thumbnail=thumbnail, filename="v.mp4")
        assert sent.video and sent.video.thumbnail is None and sent.video.width == 0


async def test_send_by_url_only_reaches_loopback(fake: FakeBotApi, bot: telegram.Bot) -> None:
    fake.user_text(USER, USER, "hi")

    async def serve(_: web.Request) -> web.Response:
        return web.Response(body=MP4_WITH_SOUND, content_type="video/mp4")

    app = web.Application()
    app.router.add_get("/v.mp4", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/v.mp4"
        sent = await bot.send_video(USER, url)
        assert sent.video and fake.file_bytes(sent.video.file_id) == MP4_WITH_SOUND
        with pytest.raises(telegram.error.BadRequest, match="Failed to get http url content"):
            await bot.send_video(USER, "https://example.com/v.mp4")
    finally:
        await runner.cleanup()


async def test_uploads_over_50_mb_get_413(fake: FakeBotApi, bot: telegram.Bot) -> None:
    fake.user_text(USER, USER, "hi")
    with pytest.raises(telegram.error.NetworkError, match="Request Entity Too Large"):
        await bot.send_document(USER, bytes(50 * 1024 * 1024 + 1), filename="big.mp4")
    assert fake.calls_of("sendDocument")[0].status == 413


async def test_injected_download_fault(fake: FakeBotApi, bot: telegram.Bot) -> None:
    file_id = fake.user_photo(USER, USER, image(30, 30))["photo"][-1]["file_id"]
    file = await bot.get_file(file_id)
    fake.inject("file", status=502)
    with pytest.raises(telegram.error.NetworkError):
        await file.download_as_bytearray()
    assert bytes(await file.download_as_bytearray()) == fake.file_bytes(file_id)


# --- updates --------------------------------------------------------------------------------


async def test_get_updates_offsets_limits_and_allowed_types(fake: FakeBotApi, api: Api) -> None:
    for n in range(3):
        fake.user_text(USER, USER, f"m{n}")
    _, body = await api("getUpdates", limit=2)
    first, second = body["result"]
    assert second["update_id"] == first["update_id"] + 1
    _, body = await api("getUpdates", offset=second["update_id"])
    assert [u["message"]["text"] for u in body["result"]] == ["m1", "m2"]
    _, sent = await api("sendMessage", chat_id=USER, text="k", reply_markup=KEYBOARD)
    fake.user_click(USER, USER, sent["result"]["message_id"], "go")
    fake.push_update({"update_id": 7, "message": {"duplicate": True}})
    fake.push_update({"update_id": 7, "message": {"duplicate": True}})
    _, body = await api("getUpdates", offset=-3, allowed_updates=["message"])
    assert [u["update_id"] for u in body["result"]] == [7, 7]  # the callback query was dropped
    _, body = await api("getUpdates", offset=8)
    assert body["result"] == [] and fake.pending_updates == []


async def test_conflicting_polls_and_webhooks(
    fake: FakeBotApi,
    api: Api,
    receiver: tuple[str, list[web.Request], list[Json], list[int]],
) -> None:
    older = asyncio.create_task(api("getUpdates", timeout=30))
    await fake.wait_until(lambda: fake.waiting_polls == 1)
    newer = asyncio.create_task(api("getUpdates", timeout=30))
    status, body = await asyncio.wait_for(older, 10)
    assert (status, body["description"]) == (
        409,
        "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
    )
    await fake.wait_until(lambda: fake.waiting_polls == 1)
    await api("setWebhook", url=receiver[0])
    status, body = await asyncio.wait_for(newer, 10)
    assert (status, body["description"]) == (409, "Conflict: terminated by setWebhook request")
    assert (await api("getUpdates"))[0] == 409
    status, body = await api("setWebhook", url=receiver[0], secret_token="bad secret!")
    assert status == 400


async def test_stop_releases_a_pending_long_poll_at_once(fake: FakeBotApi, api: Api) -> None:
    poll = asyncio.create_task(api("getUpdates", timeout=60))
    await fake.wait_until(lambda: fake.waiting_polls == 1)
    await asyncio.wait_for(fake.stop(), 10)
    assert await asyncio.wait_for(poll, 10) == (200, {"ok": True, "result": []})


async def test_webhook_retries_failures_and_drops_pending_on_request(
    fake: FakeBotApi,
    api: Api,
    receiver: tuple[str, list[web.Request], list[Json], list[int]],
) -> None:
    url, requests, _, statuses = receiver
    fake.user_text(USER, USER, "dropped")
    statuses.extend([403, 500])
    await api("setWebhook", url=url, drop_pending_updates=True)
    update = fake.user_text(USER, USER, "retried")
    await fake.wait_until(lambda: len(fake.webhook_deliveries) == 3)
    update_id = fake.webhook_deliveries[0][0]
    assert fake.webhook_deliveries == [(update_id, 403), (update_id, 500), (update_id, 200)]
    assert all("X-Telegram-Bot-Api-Secret-Token" not in r.headers for r in requests)
    assert (await requests[0].json())["message"]["text"] == update["text"]
    _, info = await api("getWebhookInfo")
    assert info["result"]["url"] == url and info["result"]["pending_update_count"] == 0


async def test_wait_call_sees_past_and_future_calls(fake: FakeBotApi, api: Api) -> None:
    fake.user_text(USER, USER, "hi")
    await api("sendMessage", chat_id=USER, text="past")
    past = await fake.wait_call("sendmessage", timeout=1)
    assert past.params["text"] == "past"
    future = asyncio.create_task(fake.wait_call("sendMessage", lambda c: c.params["text"] == "f"))
    await api("sendMessage", chat_id=USER, text="f")
    assert (await asyncio.wait_for(future, 10)).params["text"] == "f"
    with pytest.raises(TimeoutError, match="no matching sendVideo"):
        await fake.wait_call("sendVideo", timeout=0.05)
