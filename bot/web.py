"""The bot's own aiohttp server: health, provider callbacks, hosted photos, Telegram webhook.

It imports nothing from `telegram`: webhook updates are handed on as raw JSON to a callable
built in `bot/runtime.py`, and callbacks only wake a job up (the job service re-queries the
provider).

The server sheds abuse: a connection must finish its request headers within `HEADER_TIMEOUT_S`
(aiohttp's keep-alive timer closes a connection still waiting for a complete request, so it is
also the header-read timeout; pass `SERVER_LIMITS` to `web.AppRunner`), a body must arrive within
`BODY_TIMEOUT_S` (408 otherwise), every path parameter is parsed strictly (a malformed one is a
404, never a 500), and a forged or duplicate callback is answered from memory
(`bot.callback_ingest`): no database round trip, no log line per request, no task.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.callback_ingest import KnownJobs, RejectLog, Wakeups, parse_token
from bot.media.hosted import MediaStore
from bot.providers.base import InvalidCallback
from bot.providers.registry import ProviderRegistry
from bot.storage import JobStore

log = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 1024 * 1024
MAX_UPDATE_BYTES = 1024 * 1024
SEEN_UPDATES = 1000
HEADER_TIMEOUT_S = 5.0  # request line and headers, from connect (or the previous answer) on
BODY_TIMEOUT_S = 10.0  # the whole body of a callback or webhook update (at most 1 MB)
# For `web.AppRunner(app, **SERVER_LIMITS)`: see the module doc.
SERVER_LIMITS: dict[str, Any] = {
    "keepalive_timeout": HEADER_TIMEOUT_S,
    "max_line_size": 8190,
    "max_field_size": 8190,
    "max_headers": 64,
}

OnWake = Callable[[int], Coroutine[Any, Any, None]]
OnUpdate = Callable[[dict[str, Any]], Awaitable[None]]
Spawn = Callable[[Coroutine[Any, Any, None], str], object]
ReadyCheck = Callable[[], Awaitable[dict[str, bool]]]


@dataclass
class WebDeps:
    """What the routes need; built in `bot/runtime.py`."""

    store: JobStore
    media: MediaStore
    registry: ProviderRegistry
    on_wake: OnWake
    spawn: Spawn
    ready: ReadyCheck
    webhook_path: str | None = None
    webhook_secret: str | None = None
    on_update: OnUpdate | None = None
    on_callback: Callable[[str], None] | None = None  # metrics: ok / forged / invalid
    extra_routes: list[web.RouteDef] | None = None
    info: Callable[[], Awaitable[dict[str, Any]]] | None = None  # /readyz extras (balances)


@dataclass
class CallbackState:
    """Per-server memory that keeps forged and duplicate callbacks cheap."""

    known: KnownJobs
    wakeups: Wakeups
    rejected: RejectLog


DEPS = web.AppKey("deps", WebDeps)
CALLBACKS = web.AppKey("callbacks", CallbackState)


def create_web_app(deps: WebDeps) -> web.Application:
    app = web.Application(client_max_size=MAX_CALLBACK_BYTES)
    app[DEPS] = deps
    app[CALLBACKS] = CallbackState(
        KnownJobs(deps.store.get),
        Wakeups(deps.on_wake, deps.spawn),
        RejectLog("provider callbacks"),
    )
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_post("/callbacks/{provider}/{token}", callback)
    app.router.add_get("/media/{token}", media)
    if deps.webhook_path and deps.on_update is not None:
        seen: deque[int] = deque(maxlen=SEEN_UPDATES)
        app.router.add_post(deps.webhook_path, _webhook_handler(deps, seen))
    if deps.extra_routes:
        app.router.add_routes(deps.extra_routes)
    return app


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    checks = await deps.ready()
    ok = all(checks.values())
    info = await deps.info() if deps.info is not None else {}
    return web.json_response({"ready": ok, **checks, **info}, status=200 if ok else 503)


async def callback(request: web.Request) -> web.Response:
    """A provider says a task moved. Unknown job or wrong secret: 404 and nothing changes."""
    deps, state = request.app[DEPS], request.app[CALLBACKS]
    provider_name = request.match_info["provider"]
    provider = deps.registry.get(provider_name)
    parsed = parse_token(request.match_info["token"])
    if provider is None or parsed is None:
        return _refuse(deps, state, "forged", "malformed", _not_found())
    job_id, secret = parsed
    known = await state.known.get(job_id)
    if known is None:
        return _refuse(deps, state, "forged", "unknown job", _not_found())
    if not hmac.compare_digest(known.secret, secret.encode()):
        return _refuse(deps, state, "forged", "wrong secret", _not_found())
    if known.provider != provider_name:
        return _refuse(deps, state, "forged", "wrong provider", _not_found())
    try:
        body = await _read_body(request)
    except TimeoutError:
        return _refuse(deps, state, "invalid", "body too slow", _timeout())
    try:
        task_id = provider.callback_task_id(dict(request.headers), body)
    except InvalidCallback:
        return _refuse(
            deps, state, "invalid", "unparseable",
            web.json_response({"error": "invalid callback"}, status=400),
        )  # fmt: skip
    if known.task_id is not None and task_id != known.task_id:
        return _refuse(
            deps, state, "invalid", "task mismatch",
            web.json_response({"error": "task mismatch"}, status=409),
        )  # fmt: skip
    if known.finished:
        # A retry of a callback we already acted on (evolink retries up to 3 times).
        return _count(deps, "duplicate", _ok())
    # Answer at once (evolink waits 10 s at most); the work happens in a tracked task, one per
    # job however many duplicates arrive.
    if not state.wakeups.request(job_id):
        return _count(deps, "duplicate", _ok())
    log.info("job %s: callback from %s for task %s", job_id, provider_name, task_id)
    return _count(deps, "ok", _ok())


async def media(request: web.Request) -> web.StreamResponse:
    """The hosted photo a provider fetches; 404 once the job is over or the token unknown."""
    found = request.app[DEPS].media.get(request.match_info["token"])
    if found is None:
        return _not_found()
    path, content_type = found
    return web.FileResponse(
        path, headers={"Content-Type": content_type, "Cache-Control": "private, max-age=300"}
    )


def _webhook_handler(
    deps: WebDeps, seen: deque[int]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    expected = (deps.webhook_secret or "").encode()
    rejected = RejectLog("webhook updates")

    async def telegram_webhook(request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode()
        if expected and not hmac.compare_digest(given, expected):
            rejected.note("wrong secret token")
            return web.json_response({"error": "forbidden"}, status=403)
        try:
            raw = await _read_body(request)
        except TimeoutError:
            return _timeout()
        if len(raw) > MAX_UPDATE_BYTES:
            return web.json_response({"error": "too large"}, status=413)
        try:
            update = json.loads(raw)
        except ValueError:
            return web.json_response({"error": "bad json"}, status=400)
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return web.json_response({"error": "not an update"}, status=400)
        if update["update_id"] in seen:  # Telegram re-delivers when an answer was slow
            return web.json_response({"ok": True, "duplicate": True})
        seen.append(update["update_id"])
        assert deps.on_update is not None
        await deps.on_update(update)
        return web.json_response({"ok": True})

    return telegram_webhook


def _count(deps: WebDeps, outcome: str, response: web.Response) -> web.Response:
    if deps.on_callback is not None:
        deps.on_callback(outcome)
    return response


def _refuse(
    deps: WebDeps, state: CallbackState, outcome: str, reason: str, response: web.Response
) -> web.Response:
    """A refused callback: counted in the metric, logged at most once a minute."""
    state.rejected.note(reason)
    return _count(deps, outcome, response)


async def _read_body(request: web.Request) -> bytes:
    """The whole body, within `BODY_TIMEOUT_S` (TimeoutError otherwise). A small body has
    usually arrived with the headers: then no timer is armed (it was a third of the CPU of a
    duplicate callback)."""
    if request.content.is_eof():
        return await request.read()
    async with asyncio.timeout(BODY_TIMEOUT_S):
        return await request.read()


# Fixed answers, encoded once: json.dumps per request was a fifth of a callback's CPU.
_OK_BODY = b'{"ok": true}'
_NOT_FOUND_BODY = b'{"error": "not found"}'


def _ok() -> web.Response:
    return web.Response(body=_OK_BODY, content_type="application/json")


def _timeout() -> web.Response:
    return web.json_response({"error": "request body too slow"}, status=408)


def _not_found() -> web.Response:
    return web.Response(body=_NOT_FOUND_BODY, status=404, content_type="application/json")
