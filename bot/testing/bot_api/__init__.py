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

from bot.testing.bot_api.compose import Handler
from bot.testing.bot_api.media import LOCAL_UPLOAD_LIMIT, UPLOAD_LIMIT, MediaMethods
from bot.testing.bot_api.messages import MessageMethods
from bot.testing.bot_api.payments import PaymentMethods, PaymentState
from bot.testing.bot_api.profile import ProfileMethods
from bot.testing.bot_api.store import MB, World
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

__all__ = ["Call", "FakeBotApi", "UploadedFile"]

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
    ) -> None:
        # local_mode: behave like a local Bot API server (uploads up to 2000 MB).
        self.upload_limit = LOCAL_UPLOAD_LIMIT if local_mode else UPLOAD_LIMIT
        self.token = token
        self.world = World(bot_id, bot_username, bot_first_name)
        self.signal = Signal()
        self.updates = UpdateQueue(self.signal, webhook_retry_delays)
        self.calls: list[Call] = []
        self.downloads: list[str] = []  # file paths the bot downloaded
        self.answered_callbacks: set[str] = set()
        self.internal_errors: list[BaseException] = []  # bugs in the fake itself (answered 500)
        self.base_url = ""
        self._open_queries: set[str] = set()
        self._faults: dict[str, list[_Fault]] = {}
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._delivery: asyncio.Task[None] | None = None
        self.payments = PaymentState()  # Stars: invoices, pre-checkout answers, charges
        self._payment_methods = PaymentMethods(self.world, self.updates, self.payments)
        self.profile = ProfileMethods()  # setMyDescription and friends: profile.py
        handlers: dict[str, Handler] = {
            **self._payment_methods.handlers(),
            **self.profile.handlers(),
            **MessageMethods(self.world, self._open_queries, self.answered_callbacks).handlers(),
            **MediaMethods(self.world, lambda: self._session, self.upload_limit).handlers(),
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
        }
        self._methods = {name.lower(): (name, handler) for name, handler in handlers.items()}

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on host:port (0 = a free port) and start webhook delivery."""
        app = web.Application(client_max_size=2 * self.upload_limit + MB)
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
        method = entry[0] if entry else name
        params: Json = {}
        files: dict[str, UploadedFile] = {}
        try:
            params, files = await read_params(request)
            self._raise_fault(method)
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
        self.calls.append(Call(method, params, files, time.monotonic(), response.status))
        self.signal.fire()
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
        queue = self._faults.get(method.lower())
        if queue:
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
            raise fault.error

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
