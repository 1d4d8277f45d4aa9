"""Shared pieces of the per-provider end-to-end tests (issue 4, "Fakes and tests").

The bot runs for real (`start_bot` from conftest) against the fake provider servers of
`bot.testing.providers`; these helpers point it at the fakes through its operator variables,
drive the options keyboard, and read back what the user saw and what the ledger recorded.
Waits are always on events (a recorded call, a request, a state), never on sleeps.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bot.models import Job, JobStatus
from bot.providers import _http
from bot.runtime import BotRuntime
from bot.testing.bot_api import FakeBotApi
from bot.testing.bot_api.wire import Call
from bot.testing.providers import (
    AimlapiFake,
    ApikleyFake,
    EvolinkFake,
    FakeProviderServer,
    FoxapiFake,
)
from bot.testing.sample_media import make_sample_photo
from tests.e2e_helpers import buttons, is_options_message
from tests.idle_barrier import bot_tasks_done

Json = dict[str, Any]
TIME_SCALE = 0.01
ADMIN = 9001

# What each vendor's fake says in its error bodies: none of it may reach a user.
RAW_VENDOR_WORDS = (
    "Invalid API key",
    "access permissions",
    "Insufficient",
    "exhausted",
    "Internal server error",
    "Server error",
    "Bad Gateway",
    "nginx",
    "Rate limit",
    "Too many",
    "HTTP ",
    "evolink",
    "apikley",
    "foxapi",
    "aimlapi",
)


@dataclass(frozen=True)
class Flavour:
    """One model on one provider, as the tests drive it."""

    id: str
    vendor: str
    fake_cls: type[FakeProviderServer]
    vendor_model: str
    callbacks: bool
    model_button: str | None = None  # pressed before Generate to pick a non-default model

    def fake(self, **kwargs: Any) -> FakeProviderServer:
        if self.fake_cls is EvolinkFake:  # strict callback rules, except 127.0.0.1 for e2e
            kwargs.setdefault("loopback_callbacks", True)
        return self.fake_cls(time_scale=TIME_SCALE, **kwargs)


GROK = Flavour("evolink-grok", "evolink", EvolinkFake, "grok-imagine-image-to-video", True)
HAPPYHORSE = Flavour(
    "evolink-happyhorse",
    "evolink",
    EvolinkFake,
    "happyhorse-1.0-image-to-video",
    True,
    model_button="HappyHorse 1.0",
)
APIKLEY = Flavour("apikley", "apikley", ApikleyFake, "grok-imagine/image-to-video", True)
FOXAPI = Flavour("foxapi", "foxapi", FoxapiFake, "grok-imagine-image-to-video", False)
AIMLAPI = Flavour("aimlapi", "aimlapi", AimlapiFake, "x-ai/grok-imagine-video", False)
FLAVOURS = (GROK, HAPPYHORSE, APIKLEY, FOXAPI, AIMLAPI)
VENDORS = (GROK, APIKLEY, FOXAPI, AIMLAPI)  # one flavour per adapter


def flavour_params(flavours: Iterable[Flavour]) -> list[Any]:
    return [pytest.param(f, id=f.id) for f in flavours]


def provider_env(
    *fakes: FakeProviderServer, order: Iterable[str] | None = None, **extra: str
) -> dict[str, str]:
    """start_bot overrides: exactly these fakes configured (evolink left out unless given)."""
    env: dict[str, str] = {"EVOLINK_API_KEY": ""}
    for fake in fakes:
        prefix = fake.vendor.upper()
        env[f"{prefix}_API_KEY"] = fake.api_key
        env[f"{prefix}_BASE_URL"] = fake.base_url
    names = list(order) if order is not None else [f.vendor for f in fakes]
    if names:
        env["PROVIDER_ORDER"] = ",".join(names)
    env.update(extra)
    return env


def record_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff and Retry-After waits in the provider client are recorded, not slept.

    The HTTP client sleeps through `_http._sleep` (its documented test seam); the tests assert
    how long the bot *asked* to wait instead of spending that time.
    """
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)

    monkeypatch.setattr(_http, "_sleep", fake_sleep)
    return waits


def short_provider_timeout(monkeypatch: pytest.MonkeyPatch, read_s: float = 1.0) -> None:
    """The provider client gives up on an unanswered request after `read_s` (30 s in prod)."""
    monkeypatch.setattr(_http, "TIMEOUT", httpx.Timeout(read_s, connect=5.0, pool=5.0))


# ---- driving the chat ---------------------------------------------------------------------


def _label(button: Json) -> str:
    """The value a button names: without the ✅ mark, a leading emoji ("🔞 Spicy"), what it adds
    to the price ("10 s +1") or the quality's plain word ("HD 720p")."""
    text = str(button["text"]).removeprefix("✅ ").strip()
    first, _, rest = text.partition(" ")
    if rest and all(unicodedata.category(c) in ("So", "Mn") or c == "\ufe0f" for c in first):
        text = rest
    text = re.sub(r" \+\d+$", "", text)
    return re.sub(r"^(?:SD|HD|Full HD) (\d+p)$", r"\1", text)


def labels(markup: Json | None) -> list[str]:
    return [_label(b) for b in buttons(markup)]


async def press_exact(tg: FakeBotApi, chat_id: int, user: int, message_id: int, text: str) -> str:
    """Press the button labelled exactly `text` (a ✅ mark aside); returns the query id."""
    msg = tg.message(chat_id, message_id)
    assert msg is not None
    markup = msg.get("reply_markup")
    found = [b for b in buttons(markup) if _label(b) == text]
    assert found, f"no button {text!r} in {labels(markup)}"
    query_id = tg.user_click(chat_id, user, message_id, found[0]["callback_data"])
    await tg.wait_until(lambda: query_id in tg.answered_callbacks)
    return query_id


async def choose(tg: FakeBotApi, chat_id: int, user: int, message_id: int, text: str) -> None:
    """Pick an option (or a model) and wait until the keyboard shows it selected."""
    await press_exact(tg, chat_id, user, message_id, text)

    def selected() -> bool:
        markup = (tg.message(chat_id, message_id) or {}).get("reply_markup")
        return any(b["text"].startswith("✅") and _label(b) == text for b in buttons(markup))

    await tg.wait_until(selected)


@dataclass(frozen=True)
class Started:
    """A job the user started: the photo message, the options/status message, the chat."""

    photo_id: int
    status_id: int
    chat_id: int


async def open_options(
    tg: FakeBotApi,
    user: int,
    caption: str | None = "a cat turns its head",
    *,
    size: tuple[int, int] = (640, 480),
) -> tuple[int, int]:
    """The user sends a photo; returns (photo message id, options message id)."""
    before = len(tg.calls_of("sendMessage"))
    photo = tg.user_photo(user, user, make_sample_photo(*size), caption)
    call = await tg.wait_call(
        "sendMessage",
        lambda c: (
            c.status == 200
            and c.params["chat_id"] == user
            and is_options_message(c)
            and c.params.get("reply_parameters", {}).get("message_id") == photo["message_id"]
        ),
    )
    assert len(tg.calls_of("sendMessage")) > before
    for msg in reversed(tg.bot_messages(user)):
        if msg.get("reply_markup") == call.params.get("reply_markup"):
            return int(photo["message_id"]), int(msg["message_id"])
    raise AssertionError("options message not found")


async def generate_on(
    tg: FakeBotApi, user: int, photo_id: int, options_id: int, picks: Iterable[str] = ()
) -> Started:
    """On an options message already shown: press each of `picks`, in order, then Generate."""
    for pick in picks:
        await choose(tg, user, user, options_id, pick)
    msg = tg.message(user, options_id)
    assert msg is not None
    generate = [b for b in buttons(msg.get("reply_markup")) if "Generate" in b["text"]]
    assert generate, labels(msg.get("reply_markup"))
    query_id = tg.user_click(user, user, options_id, generate[0]["callback_data"])
    await tg.wait_until(lambda: query_id in tg.answered_callbacks)
    return Started(photo_id, options_id, user)


async def start_job(
    tg: FakeBotApi,
    user: int,
    caption: str | None = "a cat turns its head",
    *,
    picks: Iterable[str] = (),
    size: tuple[int, int] = (640, 480),
) -> Started:
    """Photo -> options (each of `picks` pressed, in order) -> Generate."""
    photo_id, options_id = await open_options(tg, user, caption, size=size)
    return await generate_on(tg, user, photo_id, options_id, picks)


async def flavour_job(tg: FakeBotApi, user: int, flavour: Flavour, **kw: Any) -> Started:
    """A job on `flavour` with its default options."""
    picks = [flavour.model_button] if flavour.model_button else []
    return await start_job(tg, user, picks=[*picks, *kw.pop("picks", ())], **kw)


def chat_texts(tg: FakeBotApi, chat_id: int) -> list[str]:
    """Every text the bot sent or edited into a chat, plus every toast it showed."""
    out = [
        str(c.params.get("text", ""))
        for c in tg.calls
        if c.method in ("sendMessage", "editMessageText") and c.params.get("chat_id") == chat_id
    ]
    out += [str(c.params.get("text", "")) for c in tg.calls_of("answerCallbackQuery")]
    return out


def raw_words_seen(tg: FakeBotApi, chat_id: int) -> list[str]:
    """Vendor error words (or provider names) that reached the user's chat."""
    seen = "\n".join(chat_texts(tg, chat_id)).lower()
    return [w for w in RAW_VENDOR_WORDS if w.lower() in seen]


async def wait_failure_message(
    tg: FakeBotApi, started: Started, needle: str, *, within: float = 10.0
) -> Call:
    """The new message (a reply to the photo) that tells the user the job failed."""
    return await tg.wait_call(
        "sendMessage",
        lambda c: (
            c.params.get("chat_id") == started.chat_id
            and needle.lower() in str(c.params.get("text", "")).lower()
            and c.params.get("reply_parameters", {}).get("message_id") == started.photo_id
        ),
        timeout=within,
    )


async def wait_video(tg: FakeBotApi, started: Started, *, within: float = 20.0) -> Call:
    """The video, sent as a reply to the user's photo."""
    # A 429 (flood control, as strict as Telegram's) is retried by PTB after retry_after.
    video = await tg.wait_call(
        "sendVideo",
        lambda c: c.params.get("chat_id") == started.chat_id and c.status != 429,
        timeout=within,
    )
    assert video.status == 200
    assert video.params["reply_parameters"]["message_id"] == started.photo_id
    assert "video" in video.files
    # Delivery is recorded (and the status message says Done) only after Telegram's answer.
    await wait_status_text(tg, started, "Done", within=within)
    return video


# ---- reading the bot's state --------------------------------------------------------------


def ctx_of(runtime: BotRuntime) -> Any:
    assert runtime.ctx is not None
    return runtime.ctx


async def jobs_of(runtime: BotRuntime, user: int) -> list[Job]:
    """The user's paid jobs, newest first."""
    jobs: list[Job] = await ctx_of(runtime).store.recent_for_user(user)
    return [j for j in jobs if j.status is not JobStatus.DRAFT]


async def only_job(runtime: BotRuntime, user: int) -> Job:
    jobs = await jobs_of(runtime, user)
    assert len(jobs) == 1, [(j.id, j.status) for j in jobs]
    return jobs[0]


async def wait_status_text(
    tg: FakeBotApi, started: Started, needle: str, *, within: float = 10.0
) -> str:
    """The status message's text once it contains `needle`."""

    def text() -> str:
        return str((tg.message(started.chat_id, started.status_id) or {}).get("text", ""))

    await tg.wait_until(lambda: needle.lower() in text().lower(), timeout=within)
    return text()


async def ledger(runtime: BotRuntime, user: int) -> list[tuple[str, int]]:
    """(kind, amount) of each ledger row of the user, oldest first."""
    rows = await ctx_of(runtime).ledger.rows(user)
    return [(str(r["kind"]), int(r["amount"])) for r in rows]


async def ledger_kinds(runtime: BotRuntime, user: int) -> list[str]:
    return [kind for kind, _ in await ledger(runtime, user)]


async def balance(runtime: BotRuntime, user: int) -> int:
    return int((await ctx_of(runtime).ledger.balance(user)).total)


async def assert_refunded(runtime: BotRuntime, user: int, quota: int = 5) -> None:
    """One reserve, given back by one refund; the balance is whole again."""
    rows = await ledger(runtime, user)
    kinds = [k for k, _ in rows]
    assert kinds == ["allowance", "reserve", "refund"], rows
    reserve = sum(a for k, a in rows if k == "reserve")
    refund = sum(a for k, a in rows if k == "refund")
    assert reserve < 0 and refund == -reserve
    assert await balance(runtime, user) == quota


async def assert_charged_once(runtime: BotRuntime, user: int) -> None:
    """One reserve, settled: the user paid exactly once."""
    assert await ledger_kinds(runtime, user) == ["allowance", "reserve", "settle"]


def media_prefix(runtime: BotRuntime) -> str:
    return f"http://127.0.0.1:{runtime.port}/media/"


async def url_status(url: str) -> int:
    """The HTTP status a GET of `url` answers now."""
    async with httpx.AsyncClient() as client:
        return (await client.get(url)).status_code


def callback_url(runtime: BotRuntime, vendor: str, job: Job) -> str:
    base = runtime.settings.public_base_url
    return f"{base}/callbacks/{vendor}/{job.id}-{job.callback_secret}"


async def wait_idle(runtime: BotRuntime) -> None:
    """Every background task the bot started has finished (the endless loops aside)."""
    await bot_tasks_done(runtime)
