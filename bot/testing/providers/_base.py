"""The fake provider server core: a real aiohttp app on 127.0.0.1 with recording and faults.

Usage:
    async with EvolinkFake(time_scale=0.01) as fake:      # any vendor subclass
        settings.evolink_base_url = fake.base_url
        ...
        created = await fake.wait_request("/v1/videos/generations")
        task = await fake.wait_task()
        fake.succeed(task.id)
        await fake.wait_callback_attempts(1)

Each vendor module adds its routes, validation and JSON shapes; this class owns the server,
authentication, the request log, fault injection, hosted-image checks and result downloads.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from typing import Any, ClassVar

import httpx
from aiohttp import web

from bot.testing.providers._faults import FaultInjection
from bot.testing.providers._images import check_image
from bot.testing.providers._lifecycle import TaskLifecycle
from bot.testing.providers._records import (
    ROUTES,
    CallbackAttempt,
    FakeTask,
    Fault,
    ImageCheck,
    Recorded,
)
from bot.testing.providers._validate import Invalid

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Actions that run once the response is on the wire (e.g. failing a task for a refused image).
_AFTER = web.RequestKey("fake_after_response", list[Callable[[], None]])
# The path of the request being answered (vendors such as aimlapi echo it in error bodies).
current_path: ContextVar[str] = ContextVar("fake_provider_path", default="")


class FakeProviderServer(FaultInjection, TaskLifecycle):
    """Base of every fake provider; see the module docstring and `docs/testing.md`."""

    # "task": a refused image fails the task; "create": the create request is refused
    default_image_failure: ClassVar[str] = "task"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        time_scale: float = 1.0,
        auto_complete: bool = False,
        auto_steps: int = 2,
        auto_delay: float | None = None,
        strict: bool = True,
        callback_timeout: float = 10.0,
        image_failure: str | None = None,
    ) -> None:
        self.api_key = api_key or f"test-key-{self.vendor}"
        self.time_scale = time_scale
        self.auto_complete = auto_complete
        self.auto_steps = auto_steps
        self.auto_delay = auto_delay
        self.strict = strict
        self.callback_timeout = callback_timeout
        self.image_failure = image_failure or self.default_image_failure
        self.duplicate_callbacks = 0
        self.result_status = 200  # e.g. 404: result downloads fail
        self.requests: list[Recorded] = []
        self.tasks: dict[str, FakeTask] = {}
        self.image_checks: list[ImageCheck] = []
        self.callback_attempts: list[CallbackAttempt] = []
        self._faults: dict[str, deque[Fault]] = {route: deque() for route in ROUTES}
        self._scripts = deque()
        self._background = set()
        self._client = None
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._base_url = ""

    # -- server lifecycle ----------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on `host`:`port` (0 = a free port) and return the base URL."""
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        self.add_routes(app)
        app.router.add_get("/files/{name}", self._download, name="download")
        # trust_env=False: never route the fake's own requests through a configured proxy.
        self._client = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = self._runner.addresses
        self._base_url = f"http://{host}:{sockets[0][1]}"
        return self._base_url

    async def stop(self) -> None:
        """Release hung requests, cancel callbacks and timers, close the server."""
        self._stopping.set()
        for job in list(self._background):
            job.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> FakeProviderServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`, what the bot's `<VENDOR>_BASE_URL` is set to."""
        if not self._base_url:
            raise RuntimeError("the fake server is not started")
        return self._base_url

    def result_url(self, task_id: str) -> str:
        """Where a completed task's video is served."""
        return f"{self.base_url}/files/{task_id}.mp4"

    # -- vendor hooks --------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        """Register the vendor's routes, named "create" and "query"."""
        raise NotImplementedError

    # error_response(status, message, *, param, code, headers): see FaultInjection.

    def image_task_error(self, check: ImageCheck) -> tuple[str, str]:
        """The task failure (code, message) for a refused image."""
        return self.default_failure[0], check.reason

    # -- helpers for vendor handlers -----------------------------------------------------------
    async def create_task(
        self,
        request: web.Request,
        *,
        task_id: str,
        model: str,
        body: dict[str, Any],
        callback_url: str | None,
        image_urls: Iterable[str],
        min_side: int = 1,
        max_aspect: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> FakeTask | ImageCheck:
        """Check the images, then make the task; a refused image is returned in "create" mode."""
        checks = [
            await check_image(self._http(), url, min_side=min_side, max_aspect=max_aspect)
            for url in image_urls
        ]
        self.image_checks.extend(checks)
        refused = next((c for c in checks if not c.ok), None)
        if refused is not None and self.image_failure == "create":
            self._bump()
            return refused
        now = time.time()
        task = FakeTask(task_id, model, body, now, self.initial_status, updated=now)
        task.callback_url, task.image_checks, task.params = callback_url, checks, params or {}
        task.history.append(task.status)
        self.tasks[task_id] = task
        after = request.setdefault(_AFTER, [])
        if self._take_script(task):
            # The first scripted state applies now; a terminal one calls back before we answer.
            self._enter(task, task.script.pop(0), error=task.script_error, callback=False)
            if self.is_terminal(task.status) and task.callback_url:
                await self._deliver(task)
        elif refused is not None:
            code, message = self.image_task_error(refused)
            after.append(lambda: self.fail(task.id, code, message))
        elif self.auto_complete and self.auto_delay is not None:
            after.append(lambda: self._spawn(self._auto_run(task)))
        self._bump()
        return task

    def on_query(self, task: FakeTask) -> None:
        """Count a query and move the task along its script or the auto-complete schedule."""
        self._on_query(task)

    async def read_json_object(self, request: web.Request) -> dict[str, Any]:
        """The request body as a JSON object, or `Invalid` (HTTP 400)."""
        try:
            body = json.loads(await request.text())
        except ValueError:
            raise Invalid("Invalid JSON body") from None
        if not isinstance(body, dict):
            raise Invalid("The request body must be a JSON object")
        return body

    # -- internals -----------------------------------------------------------------------------
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("the fake server is not started")
        return self._client

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.api_key}"

    async def _log_request(self, request: web.Request, route: str) -> None:
        raw = await request.read()
        text = raw.decode("utf-8", errors="replace")
        try:
            decoded: Any = json.loads(text) if raw else None
        except ValueError:
            decoded = None
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = dict(request.query)
        self.requests.append(
            Recorded(
                request.method,
                request.path,
                query,
                headers,
                decoded,
                text,
                route,
                time.monotonic(),
            )
        )
        self._bump()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.name or ""
        current_path.set(request.path)
        await self._log_request(request, route)
        fault = self._take_fault(route) if route else None
        if fault is not None and fault.kind not in ("timeout", "malformed"):
            return self._fault_response(fault)
        if route in ("create", "query") and not self._authorised(request):
            return self.error_response(401)
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # unknown path or method: still the vendor's body
            response = self.error_response(exc.status, exc.reason)
        if fault is not None and fault.kind == "malformed" and isinstance(response, web.Response):
            raw = response.body if isinstance(response.body, bytes) else b""
            ctype = response.content_type
            response = web.Response(status=200, body=raw[: len(raw) // 2], content_type=ctype)
            if route != "download":
                response.content_type = "application/json"
        actions = request.get(_AFTER, [])
        if fault is not None and fault.kind == "timeout":
            for action in actions:
                action()
            await self._stopping.wait()  # accepted, never answered
            return web.Response(status=503)
        if actions:
            # Put the response on the wire first, so e.g. a failure callback follows it.
            await response.prepare(request)
            await response.write_eof()
            for action in actions:
                action()
        return response

    async def _download(self, request: web.Request) -> web.StreamResponse:
        task_id = request.match_info["name"].removesuffix(".mp4")
        task = self.tasks.get(task_id)
        if self.result_status != 200:
            return self.error_response(self.result_status)
        if task is None or task.video is None:
            return self.error_response(404)
        return web.Response(body=task.video, content_type="video/mp4")
