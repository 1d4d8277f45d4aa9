"""The bot's own aiohttp server: health, provider callbacks, hosted photos, Telegram webhook.

It imports nothing from `telegram`: webhook updates are handed on as raw JSON to a callable
built in `bot/runtime.py`, and callbacks only wake a job up (the job service re-queries the
provider).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.media.hosted import MediaStore
from bot.providers.base import InvalidCallback
from bot.providers.registry import ProviderRegistry
from bot.storage import JobStore

log = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 1024 * 1024
MAX_UPDATE_BYTES = 1024 * 1024
SEEN_UPDATES = 1000

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


DEPS = web.AppKey("deps", WebDeps)


def create_web_app(deps: WebDeps) -> web.Application:
    app = web.Application(client_max_size=MAX_CALLBACK_BYTES)
    app[DEPS] = deps
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
    deps = request.app[DEPS]
    provider_name = request.match_info["provider"]
    job_part, _, secret = request.match_info["token"].partition("-")
    provider = deps.registry.get(provider_name)
    if provider is None or not job_part.isdigit() or not secret:
        return _count(deps, "forged", _not_found())
    job = await deps.store.get(int(job_part))
    if job is None or not hmac.compare_digest(job.callback_secret.encode(), secret.encode()):
        log.warning("forged or stale callback for provider %s refused", provider_name)
        return _count(deps, "forged", _not_found())
    if job.provider != provider_name:
        return _count(deps, "forged", _not_found())
    body = await request.read()
    try:
        task_id = provider.callback_task_id(dict(request.headers), body)
    except InvalidCallback as exc:
        log.warning("job %s: invalid callback from %s: %s", job.id, provider_name, exc)
        return _count(
            deps, "invalid", web.json_response({"error": "invalid callback"}, status=400)
        )
    if job.task_id is not None and task_id != job.task_id:
        log.warning("job %s: callback names task %s, expected %s", job.id, task_id, job.task_id)
        return _count(deps, "invalid", web.json_response({"error": "task mismatch"}, status=409))
    if job.status.is_terminal:
        # A retry of a callback we already acted on (evolink retries up to 3 times).
        return _count(deps, "duplicate", web.json_response({"ok": True}))
    log.info("job %s: callback from %s for task %s", job.id, provider_name, task_id)
    # Answer at once (evolink waits 10 s at most); the work happens in a tracked task.
    deps.spawn(deps.on_wake(job.id), f"callback-{job.id}")
    return _count(deps, "ok", web.json_response({"ok": True}))


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

    async def telegram_webhook(request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode()
        if expected and not hmac.compare_digest(given, expected):
            log.warning("webhook update with a wrong secret token refused")
            return web.json_response({"error": "forbidden"}, status=403)
        raw = await request.read()
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


def _not_found() -> web.Response:
    return web.json_response({"error": "not found"}, status=404)
