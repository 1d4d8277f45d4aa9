"""Small loopback servers for testing the fakes: an image host and a scripted callback receiver.

Usage:
    async with ImageHost() as host:
        url = host.add("/media/abc", make_sample_photo(), "image/jpeg")
    async with CallbackReceiver([500, 500, 200]) as receiver:
        fake_callback_url = receiver.url("/callbacks/evolink/tok")
        await receiver.wait(3)
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

HANG = "hang"  # a receiver status that never answers (until stop): the sender times out


@dataclass(frozen=True)
class Received:
    """One callback POST as the receiver saw it (header names lower-cased)."""

    path: str
    headers: dict[str, str]
    body: bytes


class _LoopbackServer:
    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._base = ""
        self._stopping = asyncio.Event()

    def _app(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> str:
        """Listen on a free 127.0.0.1 port; return the base URL."""
        self._runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self._base

    async def stop(self) -> None:
        """Release hung requests and close."""
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def url(self, path: str) -> str:
        """The absolute URL of `path` on this server."""
        return self._base + path

    async def __aenter__(self) -> _LoopbackServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class ImageHost(_LoopbackServer):
    """Serves registered bodies at fixed paths with a chosen Content-Type and status."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, tuple[bytes, str, int]] = {}
        self.hits: list[str] = []

    def add(self, path: str, body: bytes, content_type: str, status: int = 200) -> str:
        """Serve `body` at `path`; return its URL."""
        self.files[path] = (body, content_type, status)
        return self.url(path)

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._serve)
        return app

    async def _serve(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        body, ctype, status = self.files.get(request.path, (b"not found", "text/plain", 404))
        return web.Response(body=body, status=status, content_type=ctype)


class CallbackReceiver(_LoopbackServer):
    """Answers POSTs with `statuses` in turn (the last repeats); `HANG` never answers."""

    def __init__(self, statuses: Sequence[int | str] = (200,)) -> None:
        super().__init__()
        self.statuses = list(statuses)
        self.received: list[Received] = []
        self._changed = asyncio.Event()

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._receive)
        return app

    async def _receive(self, request: web.Request) -> web.Response:
        index = len(self.received)
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.received.append(Received(request.path, headers, await request.read()))
        old, self._changed = self._changed, asyncio.Event()
        old.set()
        status = self.statuses[min(index, len(self.statuses) - 1)]
        if status == HANG:
            await self._stopping.wait()
            return web.Response(status=503)
        return web.json_response({"ok": True}, status=int(status))

    async def wait(self, count: int, timeout: float = 10.0) -> list[Received]:  # noqa: ASYNC109
        """All received POSTs once there are at least `count`."""

        async def _poll() -> list[Received]:
            while len(self.received) < count:
                changed = self._changed
                await changed.wait()
            return list(self.received)

        return await asyncio.wait_for(_poll(), timeout)
