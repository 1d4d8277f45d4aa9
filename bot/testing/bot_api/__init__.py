"""A fake Telegram Bot API server that the real python-telegram-bot talks to over 127.0.0.1.

Used by the end-to-end tests and the offline demo. Point the bot at it with
`base_url=f"{fake.base_url}/bot"` and `base_file_url=f"{fake.base_url}/file/bot"`. It answers
with the shapes, error bodies and status codes of the real Bot API (see docs/testing.md): HTML is
parsed into text + entities, edits without a keyboard drop it, unknown methods get a 400 (never a
404, which PTB reads as a bad token). Simulated users, call inspection and faults are plain
Python on the same event loop (`user_photo`, `wait_call`, `inject`, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

import aiohttp
from aiohttp import web

from bot.testing.bot_api.callbacks import ANSWER_WINDOW_S, CallbackQueries
from bot.testing.bot_api.clock import Clock, ManualClock, real_clock
from bot.testing.bot_api.compose import Handler
from bot.testing.bot_api.flood import FloodControl, FloodLimits, too_many_requests
from bot.testing.bot_api.media import LOCAL_UPLOAD_LIMIT, UPLOAD_LIMIT, MediaMethods
from bot.testing.bot_api.messages import MessageMethods
from bot.testing.bot_api.payments import PaymentMethods, PaymentState
from bot.testing.bot_api.profile import ProfileMethods
from bot.testing.bot_api.store import MB, World, now
from bot.testing.bot_api.updates import Signal, UpdateQueue
from bot.testing.bot_api.users import SimulatedUsers
from bot.testing.bot_api.wire import (
    ApiError,
    Call,
    Described,
    Json,
    UploadedFile,
    error_response,
    ok_response,
    read_params,
)

__all__ = ["Call", "FakeBotApi", "FloodLimits", "ManualClock", "UploadedFile"]

log = logging.getLogger(__name__)

_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass
class _Fault:
    error: ApiError
    remaining: int


@dataclass
class _LostAnswer:
    """The method takes effect; then its answer is dropped (hold=False) or held back."""

    remaining: int
    hold: bool


class FakeBotApi(SimulatedUsers):
    """The fake server plus its test-control API."""

    def __init__(
        self,
        token: str,
        *,
        bot_id: int = 7000000001,
        bot_username: str = "photo2video_bot",
        bot_first_name: str = "Photo2Video",
        webhook_retry_delays: tuple[float, ...] = (0.05, 0.2, 0.5),
        local_mode: bool = False,
        clock: Clock = real_clock,
        callback_answer_window_s: float | None = ANSWER_WINDOW_S,
        flood_limits: FloodLimits | None = FloodLimits(),  # noqa: B008 - frozen, shared safely
    ) -> None:
        # Strict like Telegram by default: late callback answers are refused, flood limits hold
        # by the clock, webhooks need HTTPS on Telegram's ports (unless local_mode), sendVideo
        # answers animation/document for what is not an MP4 with sound. `clock` is what tests
        # move instead of sleeping; `callback_answer_window_s=None` / `flood_limits=None` turn
        # a rule off for the rare test that needs the opposite.
        self.token = token
        self.clock = clock
        self.world = World(bot_id, bot_username, bot_first_name)
        self.signal = Signal()
        self.updates = UpdateQueue(self.signal, webhook_retry_delays)
        self.calls: list[Call] = []
        self.downloads: list[str] = []  # file paths the bot downloaded
        self.callback_queries = CallbackQueries(clock, callback_answer_window_s)
        self.answered_callbacks = self.callback_queries.answered
        self.flood = FloodControl(clock, flood_limits) if flood_limits is not None else None
        self.internal_errors: list[BaseException] = []  # bugs in the fake itself (answered 500)
        self.lost_answers: list[Call] = []  # calls that took effect but whose answer was lost
        self.base_url = ""
        self.in_flight = 0  # requests being handled now (the idle barrier waits for 0)
        self._faults: dict[str, list[_Fault]] = {}
        self._lost: dict[str, list[_LostAnswer]] = {}
        self._release_held = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._delivery: asyncio.Task[None] | None = None
        self._media = MediaMethods(self.world, lambda: self._session, UPLOAD_LIMIT)
        self.local_mode = local_mode
        self.payments = PaymentState()  # Stars: invoices, pre-checkout answers, charges
        self._payment_methods = PaymentMethods(self.world, self.updates, self.payments)
        self.profile = ProfileMethods()  # setMyDescription and friends: profile.py
        handlers: dict[str, Handler] = {
            **self._payment_methods.handlers(),
            **self.profile.handlers(),
            **MessageMethods(self.world, self.callback_queries).handlers(),
            **self._media.handlers(),
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
        }
        self._methods = {name.lower(): (name, handler) for name, handler in handlers.items()}

    @property
    def local_mode(self) -> bool:
        """Behave like a local Bot API server: 2000 MB uploads, HTTP webhooks on any port."""
        return self.updates.local_mode

    @local_mode.setter
    def local_mode(self, value: bool) -> None:
        self.updates.local_mode = value
        self._media.upload_limit = LOCAL_UPLOAD_LIMIT if value else UPLOAD_LIMIT

    def answer_send_video_as(self, kind: str | None) -> None:
        """Make sendVideo answer an `animation` or a `document` (None: decide as Telegram does)."""
        self._media.video_kind_override = kind

    @property
    def upload_limit(self) -> int:
        """The largest multipart upload accepted (413 above it)."""
        return self._media.upload_limit

    @property
    def video_kinds_like_telegram(self) -> bool:
        """sendVideo answers animation (silent MP4) or document (not MP4), as Telegram does."""
        return self._media.video_kinds_like_telegram

    @video_kinds_like_telegram.setter
    def video_kinds_like_telegram(self, value: bool) -> None:
        self._media.video_kinds_like_telegram = value

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on host:port (0 = a free port) and start webhook delivery."""
        app = web.Application(client_max_size=2 * LOCAL_UPLOAD_LIMIT + MB)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.*}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_port = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound_port}"
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self.updates.closing = False
        self._delivery = asyncio.create_task(self.updates.deliver_forever(self._session))

    async def stop(self) -> None:
        """Release pending long polls at once, stop webhook delivery and close the server."""
        self.updates.closing = True
        self._release_held.set()
        self.signal.fire()
        if self._delivery is not None:
            self._delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery
            self._delivery = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- HTTP side -------------------------------------------------------------------------

    async def _handle_method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return error_response(ApiError(401, "Unauthorized"))
        name = request.match_info["method"]
        entry = self._methods.get(name.lower())
        if name.lower() == "getupdates":
            return await self._answer_method(request, name, entry)  # parks: not "work"
        self.in_flight += 1
        try:
            return await self._answer_method(request, name, entry)
        finally:
            self.in_flight -= 1
            self.signal.fire()

    async def _answer_method(
        self, request: web.Request, name: str, entry: tuple[str, Handler] | None
    ) -> web.Response:
        method = entry[0] if entry else name
        params: Json = {}
        files: dict[str, UploadedFile] = {}
        try:
            params, files = await read_params(request)
            self._raise_fault(method)
            if self.flood is not None:
                self.flood.check(method, params.get("chat_id"))
            if entry is None:
                raise ApiError(400, f"fake server does not implement {name}")
            response = ok_response(await entry[1](params, files))
        except ApiError as error:
            response = error_response(error)
        except (ConnectionResetError, aiohttp.ClientPayloadError) as exc:
            # The bot went away mid-request (killed during an upload): nobody to answer.
            log.info("client went away during %s: %s", method, type(exc).__name__)
            raise
        except Exception as exc:  # a bug in the fake: answer like Telegram's 500, keep it visible
            log.exception("fake Bot API failed on %s", method)
            self.internal_errors.append(exc)
            response = error_response(ApiError(500, "Internal Server Error"))
        call = Call(method, params, files, time.monotonic(), response.status)
        self.calls.append(call)
        self.signal.fire()
        lost = self._take_lost(method) if response.status == 200 else None
        if lost is not None:
            self.lost_answers.append(call)
            self.signal.fire()
            if lost.hold:
                await self._release_held.wait()  # answered late, once the test releases it
            else:
                # Done on Telegram's side; the connection drops before the answer.
                if request.transport is not None:
                    request.transport.abort()
                raise ConnectionResetError("answer lost (injected)")
        return response

    async def _handle_file(self, request: web.Request) -> web.Response:
        stored = self.world.files_by_path.get(request.match_info["path"])
        if request.match_info["token"] != self.token or stored is None:
            return error_response(ApiError(404, "Not Found"))
        try:
            self._raise_fault("file")
        except ApiError as error:
            return error_response(error)
        self.downloads.append(stored.path)
        self.signal.fire()
        return web.Response(body=stored.data, content_type="application/octet-stream")

    def _raise_fault(self, method: str) -> None:
        key = f"method:{method.lower()}"
        if self.flood is not None and (wait := self.flood.banned_for(key)):
            raise too_many_requests(wait)  # a retry before retry_after has passed
        queue = self._faults.get(method.lower())
        if queue:
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
            retry_after = (fault.error.parameters or {}).get("retry_after")
            if self.flood is not None and fault.error.code == 429 and retry_after:
                self.flood.ban(key, int(retry_after))
            raise fault.error

    def _take_lost(self, method: str) -> _LostAnswer | None:
        queue = self._lost.get(method.lower())
        if not queue:
            return None
        lost = queue[0]
        lost.remaining -= 1
        if lost.remaining <= 0:
            queue.pop(0)
        return lost

    async def _get_updates(self, params: Json, files: dict[str, UploadedFile]) -> list[Json]:
        return copy.deepcopy(await self.updates.get_updates(params))

    async def _set_webhook(self, params: Json, files: dict[str, UploadedFile]) -> Described:
        return Described(True, self.updates.set_webhook(params))

    async def _delete_webhook(self, params: Json, files: dict[str, UploadedFile]) -> Described:
        return Described(True, self.updates.delete_webhook(params))

    async def _get_webhook_info(self, params: Json, files: dict[str, UploadedFile]) -> Json:
        return self.updates.webhook_info()

    # --- test control ----------------------------------------------------------------------

    def inject(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = None,
        description: str | None = None,
        times: int = 1,
    ) -> None:
        """Fail the next `times` calls of `method` ("file" = downloads) with a Telegram error."""
        if status == 429 and retry_after is None:
            retry_after = 1  # Telegram's 429 always says how long to wait
        if description is None:
            description = _DESCRIPTIONS.get(status, "Error")
            if status == 429:
                description = f"Too Many Requests: retry after {retry_after}"
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        error = ApiError(status, description, parameters)
        self._faults.setdefault(method.lower(), []).append(_Fault(error, times))

    def inject_lost_answer(self, method: str, *, times: int = 1, hold: bool = False) -> None:
        """The next `times` successful calls of `method` take effect on Telegram's side, then
        the answer is lost: the connection drops, or (`hold`) the answer waits for
        `release_held_answers()`. What the bot sees is a network error or a slow answer."""
        self._lost.setdefault(method.lower(), []).append(_LostAnswer(times, hold))

    def release_held_answers(self) -> None:
        """Send every answer held back by `inject_lost_answer(hold=True)`."""
        self._release_held.set()

    def set_chat_admins(self, chat_id: int, user_ids: set[int]) -> None:
        """Who getChatMember reports as an administrator of a chat."""
        self.world.admins[chat_id] = set(user_ids)

    def telegram_refund(self, charge_id: str) -> None:
        """Telegram refunds a Stars payment on its own (support): refunded_payment follows."""
        self._payment_methods.refund(charge_id)

    def set_blocked(self, chat_id: int, blocked: bool = True) -> None:
        """Make sends to a private chat fail with 403 "bot was blocked by the user"."""
        if blocked:
            self.world.blocked.add(chat_id)
        else:
            self.world.blocked.discard(chat_id)

    def set_deactivated(self, chat_id: int) -> None:
        """The user deleted their account: 403 "user is deactivated" for every send."""
        self.world.forbidden[chat_id] = "Forbidden: user is deactivated"

    def kick_bot(self, chat_id: int) -> None:
        """The bot was removed from a group: 403 for every send there."""
        self.world.forbidden[chat_id] = "Forbidden: bot was kicked from the group chat"

    def delete_chat(self, chat_id: int) -> None:
        """The chat is gone (deleted group, deleted account's chat): 400 "chat not found"."""
        self.world.chats.pop(chat_id, None)

    def migrate_group(self, chat_id: int, new_chat_id: int | None = None) -> int:
        """The group becomes a supergroup: sends to the old id get 400 with
        `migrate_to_chat_id`, and the bot gets both service messages, as from Telegram."""
        new_id = new_chat_id if new_chat_id is not None else -1_000_000_000_000 + chat_id
        old = copy.deepcopy(self.world.chats[chat_id])
        members = sorted(self.world.members.get(chat_id, set()))
        by = self.world.known_user(members[0] if members else self.world.bot_id)  # who upgraded
        chat = self.world.migrate(chat_id, new_id)
        date = now()
        self.updates.push(
            {"message": {"message_id": self.world.next_message_id(chat_id), "from": by,
                         "date": date, "chat": old, "migrate_to_chat_id": new_id}}
        )  # fmt: skip
        moved: Json = {"from": by, "date": date, "chat": chat, "migrate_from_chat_id": chat_id}
        self.updates.push({"message": self.world.add_message(chat, moved)})
        return new_id

    def user_delete_message(self, chat_id: int, message_id: int) -> None:
        """The user deletes a message (their photo, or the bot's message in a private chat)."""
        self.world.messages.get(chat_id, {}).pop(message_id, None)
        self.signal.fire()

    def close_topic(self, chat_id: int, thread_id: int) -> None:
        """A forum topic is closed: the bot's sends there get 400 TOPIC_CLOSED."""
        self.world.closed_topics.add((chat_id, thread_id))

    def calls_of(self, method: str) -> list[Call]:
        """Recorded calls of one method (case-insensitive), oldest first."""
        return [call for call in self.calls if call.method.lower() == method.lower()]

    async def wait_call(
        self,
        method: str,
        where: Callable[[Call], bool] | None = None,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - the test-control API names it so
    ) -> Call:
        """The first call of `method` matching `where`, already made or still to come."""

        def find() -> Call | None:
            return next((c for c in self.calls_of(method) if where is None or where(c)), None)

        try:
            await self.wait_until(lambda: find() is not None, timeout=timeout)
        except TimeoutError:
            seen = [f"{c.method}:{c.status}" for c in self.calls]
            raise TimeoutError(f"no matching {method} within {timeout}s; calls: {seen}") from None
        found = find()
        assert found is not None
        return found

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - the test-control API names it so
    ) -> None:
        """Return once `predicate()` holds, re-checked on every call and state change."""
        async with asyncio.timeout(timeout):
            await self.signal.wait_for(predicate)

    def message(self, chat_id: int, message_id: int) -> Json | None:
        """The current state of a message (None once deleted)."""
        return copy.deepcopy(self.world.get_message(chat_id, message_id))

    def bot_messages(self, chat_id: int) -> list[Json]:
        """The bot's messages in a chat that still exist, oldest first."""
        stored = self.world.messages.get(chat_id, {})
        mine = [m for _, m in sorted(stored.items()) if m["from"]["id"] == self.world.bot_id]
        return copy.deepcopy(mine)

    def file_bytes(self, file_id: str) -> bytes:
        """The bytes kept under a file_id (uploads and user files alike)."""
        return self.world.files[file_id].data

    @property
    def webhook_url(self) -> str | None:
        """The URL set by setWebhook, if any."""
        return self.updates.webhook_url

    @property
    def webhook_secret(self) -> str | None:
        """The secret_token set with the webhook, if any."""
        return self.updates.webhook_secret

    @property
    def webhook_deliveries(self) -> list[tuple[int, int]]:
        """(update_id, HTTP status the bot answered; 0 = no answer) for every POST attempt."""
        return self.updates.deliveries

    @property
    def pending_updates(self) -> list[Json]:
        """Updates not yet confirmed by getUpdates or the webhook."""
        return copy.deepcopy(self.updates.available())

    @property
    def waiting_polls(self) -> int:
        """getUpdates requests currently parked in a long poll."""
        return self.updates.waiting_polls
