"""Shared pieces of the lifecycle end-to-end tests (cancel, retry, limits, credits, watchdog).

- `HeldEvolink`: the evolink fake whose create or result-download request can be parked until the
  test releases it, so a job can be caught exactly "while the create request is in flight" or
  "while the video is downloading" with no sleep and no timing assumption.
- `hold_bot_method`: the same for one Bot API method of the fake Telegram server (sendVideo).
- `FakeClock` / `install_clock`: the bot's wall clock, injected into the running bot. The job
  context, the job store and the ledger each take their clock as a plain callable attribute
  (`JobContext.clock`, `JobStore.clock`, `Ledger.clock`, all built in `bot/runtime.py`); the
  tests swap those three attributes on the live objects right after `start()`. Nothing is
  monkeypatched globally (`time.time` stays real for the fakes, PTB and aiohttp), and no
  production code changes for it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.jobs.context import JobContext
from bot.models import Job
from bot.runtime import BotRuntime
from bot.testing.bot_api import Call, FakeBotApi
from bot.testing.bot_api.wire import Json, UploadedFile
from bot.testing.providers.evolink import EvolinkFake
from bot.testing.sample_media import make_sample_photo
from tests.conftest import USER
from tests.e2e_helpers import is_options_message, press

WAIT_S = 10.0


@dataclass
class Hold:
    """Parks the first matching request until `release()`; `parked` fires when one arrives."""

    name: str
    parked: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    used: bool = False

    async def park(self) -> None:
        if self.used:
            return
        self.used = True
        self.parked.set()
        await self.released.wait()

    async def wait_parked(self, timeout: float = WAIT_S) -> None:  # noqa: ASYNC109
        try:
            async with asyncio.timeout(timeout):
                await self.parked.wait()
        except TimeoutError:
            raise AssertionError(f"no {self.name} request arrived within {timeout} s") from None

    def release(self) -> None:
        self.released.set()


class HeldEvolink(EvolinkFake):
    """`EvolinkFake` plus `hold("create" | "download")`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._holds: dict[str, Hold] = {}

    def hold(self, route: str) -> Hold:
        if route not in ("create", "download"):
            raise ValueError(f"cannot hold {route!r}")
        self._holds[route] = hold = Hold(f"evolink {route}")
        return hold

    def release_all(self) -> None:
        for hold in self._holds.values():
            hold.release()

    async def _park(self, route: str) -> None:
        hold = self._holds.get(route)
        if hold is not None:
            await hold.park()

    async def _create(self, request: web.Request) -> web.Response:
        await self._park("create")
        return await super()._create(request)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        await self._park("download")
        return await super()._download(request)


@asynccontextmanager
async def running_held_evolink() -> AsyncIterator[HeldEvolink]:
    """A started `HeldEvolink` (same settings as the conftest `evolink`), released on exit."""
    fake = HeldEvolink(time_scale=0.01, loopback_callbacks=True)
    await fake.start()
    try:
        yield fake
    finally:
        fake.release_all()  # a parked handler would otherwise hold the server's shutdown
        await fake.stop()


def hold_bot_method(tg: FakeBotApi, method: str) -> Hold:
    """Park the next call of a Bot API method inside the fake Telegram until released.

    Wraps the fake's handler table entry (test-only; FakeBotApi has no public hold yet).
    """
    key = method.lower()
    name, handler = tg._methods[key]
    hold = Hold(f"Telegram {method}")

    async def held(params: Json, files: dict[str, UploadedFile]) -> Any:
        await hold.park()
        return await handler(params, files)

    tg._methods[key] = (name, held)
    return hold


@dataclass
class FakeClock:
    """A wall clock the test moves by hand (seconds since the epoch, like `time.time`)."""

    now: float

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def swap_in_context(ctx: JobContext, **changes: Any) -> None:
    """Change a dependency of the running bot (its clock, its settings). Production never does:
    the job context is frozen, and its owners read it at each use, so they see the change."""
    for name, value in changes.items():
        object.__setattr__(ctx, name, value)


def install_clock(runtime: BotRuntime, start: float) -> FakeClock:
    """Give the running bot's job context, job store and ledger one fake clock."""
    ctx = runtime.ctx
    assert ctx is not None
    clock = FakeClock(start)
    swap_in_context(ctx, clock=clock)
    ctx.store.clock = clock
    ctx.ledger.clock = clock
    return clock


# ---- driving the bot ------------------------------------------------------------------------


def text_of(tg: FakeBotApi, message_id: int, chat_id: int = USER) -> str:
    msg = tg.message(chat_id, message_id) or {}
    return str(msg.get("text") or msg.get("caption") or "")


def markup_of(tg: FakeBotApi, message_id: int, chat_id: int = USER) -> str:
    return str((tg.message(chat_id, message_id) or {}).get("reply_markup") or "")


async def wait_text(
    tg: FakeBotApi,
    message_id: int,
    part: str,
    chat_id: int = USER,
    timeout: float = WAIT_S,  # noqa: ASYNC109
) -> str:
    """Wait until the message's current text contains `part`; return the text."""
    try:
        await tg.wait_until(lambda: part in text_of(tg, message_id, chat_id), timeout=timeout)
    except TimeoutError:
        now = text_of(tg, message_id, chat_id)
        raise AssertionError(
            f"message {message_id} never said {part!r}; it says {now!r}"
        ) from None
    return text_of(tg, message_id, chat_id)


async def open_options(
    tg: FakeBotApi, user: int = USER, caption: str = "waves"
) -> tuple[int, int]:
    """The user sends a photo; returns (photo message id, options message id).

    Several photos may be open in one chat, so the options message is the one replying to
    this photo (the first bot message that does).
    """
    photo = tg.user_photo(user, user, make_sample_photo(640, 480), caption)
    photo_id = int(photo["message_id"])
    await tg.wait_call(
        "sendMessage",
        lambda c: (
            c.status == 200
            and c.params["chat_id"] == user
            and (c.params.get("reply_parameters") or {}).get("message_id") == photo_id
            and is_options_message(c)
        ),
    )
    replies = [
        int(m["message_id"])
        for m in tg.bot_messages(user)
        if (m.get("reply_to_message") or {}).get("message_id") == photo_id
    ]
    return photo_id, min(replies)


async def choose(tg: FakeBotApi, message_id: int, label: str, user: int = USER) -> None:
    """Press an option button and wait until the keyboard shows it selected."""
    await press(tg, user, user, message_id, label)
    try:
        # "720p" is shown as "✅ HD 720p": the chosen button starts with ✅ and names the value
        await tg.wait_until(
            lambda: (
                re.search(rf"✅ [^']*{re.escape(label)}", markup_of(tg, message_id, user))
                is not None
            )
        )
    except TimeoutError:
        raise AssertionError(f"{label!r} never showed as chosen") from None


async def generate(
    tg: FakeBotApi, user: int = USER, caption: str = "waves", options: tuple[str, ...] = ()
) -> tuple[int, int]:
    """Photo, optional option presses, Generate; returns (photo id, status message id)."""
    photo_id, msg_id = await open_options(tg, user, caption)
    for label in options:
        await choose(tg, msg_id, label, user)
    await press(tg, user, user, msg_id, "Generate")
    return photo_id, msg_id


async def answer_of(tg: FakeBotApi, query_id: str) -> Call:
    """The bot's answerCallbackQuery for one press."""
    return await tg.wait_call(
        "answerCallbackQuery", lambda c: c.params.get("callback_query_id") == query_id
    )


def bot_message_ids(tg: FakeBotApi, where: str, chat_id: int = USER) -> list[int]:
    """Ids of the bot's messages whose text or keyboard mentions `where`, oldest first."""
    return [
        int(m["message_id"])
        for m in tg.bot_messages(chat_id)
        if where in str(m.get("text", "")) + str(m.get("reply_markup", ""))
    ]


def video_message_ids(tg: FakeBotApi, chat_id: int = USER) -> list[int]:
    return [int(m["message_id"]) for m in tg.bot_messages(chat_id) if "video" in m]


async def jobs_of(runtime: BotRuntime, user: int = USER) -> list[Job]:
    """The user's non-draft jobs, newest first."""
    assert runtime.ctx is not None
    return await runtime.ctx.store.recent_for_user(user)


async def job_by_message(runtime: BotRuntime, message_id: int, chat_id: int = USER) -> Job:
    """The job whose status (or options) message is `message_id`, in any state."""
    assert runtime.ctx is not None
    row = await runtime.ctx.store.db.fetchone(
        "SELECT id FROM jobs WHERE chat_id = ? AND status_message_id = ?", (chat_id, message_id)
    )
    assert row is not None, f"no job shows message {message_id}"
    job = await runtime.ctx.store.get(int(row[0]))
    assert job is not None
    return job


async def ledger(runtime: BotRuntime, user: int = USER) -> list[tuple[str, str, int]]:
    """The user's ledger as (kind, bucket, amount), oldest first."""
    assert runtime.ctx is not None
    return [
        (str(r["kind"]), str(r["bucket"]), int(str(r["amount"])))
        for r in await runtime.ctx.ledger.rows(user)
    ]


async def kinds(runtime: BotRuntime, user: int = USER) -> list[str]:
    return [kind for kind, _, _ in await ledger(runtime, user)]


async def balance_total(runtime: BotRuntime, user: int = USER) -> int:
    assert runtime.ctx is not None
    return (await runtime.ctx.ledger.balance(user)).total


async def finish_background(runtime: BotRuntime, name: str) -> None:
    """Wait for the bot's tracked background task(s) called `name` (e.g. "callback-3")."""
    assert runtime.ctx is not None
    tasks = [t for t in runtime.ctx.tasks.running() if t.get_name() == name]
    if tasks:
        # asyncio.wait never cancels the tasks it gives up on (wait_for would).
        _, pending = await asyncio.wait(tasks, timeout=WAIT_S)
        assert not pending, f"background task {name} did not finish"


async def late_callback_is_ignored(
    runtime: BotRuntime, tg: FakeBotApi, evolink: EvolinkFake, task_id: str, job_id: int
) -> None:
    """The provider reports success after the job ended: the bot must ignore it entirely."""
    before = await ledger(runtime)
    attempts = len(evolink.callback_attempts)
    evolink.succeed(task_id)
    done = await evolink.wait_callback_attempts(attempts + 1)
    assert done[attempts].ok, done[attempts]
    # The callback was answered; its work runs in a tracked task: wait for that, not a sleep.
    await finish_background(runtime, f"callback-{job_id}")
    assert tg.calls_of("sendVideo") == []
    assert evolink.requests_to("download") == []
    assert await ledger(runtime) == before  # no settle, no second refund


PRICE_RE = re.compile(r"Price: (\d+) credits? · Your balance: (\S+)")


def shown_price(tg: FakeBotApi, message_id: int, chat_id: int = USER) -> tuple[int, str]:
    """(price, balance) as the options message shows them."""
    found = PRICE_RE.search(text_of(tg, message_id, chat_id))
    assert found, f"no price on the options message: {text_of(tg, message_id, chat_id)!r}"
    return int(found.group(1)), found.group(2)
