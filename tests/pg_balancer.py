"""A round-robin load balancer for replica tests: what Caddy does in front of several replicas.

Every request (Telegram's webhook posts, provider callbacks, photo fetches) goes to the next
upstream in turn; an upstream that refuses the connection (a replica that is down) is skipped
and the next one tried, like Caddy's retries. It records which upstream got what.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

_HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


@dataclass
class Forwarded:
    path: str
    upstream: str
    status: int
    body: bytes


@dataclass
class Balancer:
    upstreams: list[str]  # base URLs, e.g. http://127.0.0.1:8081
    forwarded: list[Forwarded] = field(default_factory=list)
    _next: int = 0
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        for _ in range(len(self.upstreams)):
            upstream = self.upstreams[self._next % len(self.upstreams)]
            self._next += 1
            try:
                async with self._session.request(
                    request.method, upstream + request.path_qs, data=body, headers=headers
                ) as answer:
                    payload = await answer.read()
                    self.forwarded.append(Forwarded(request.path, upstream, answer.status, body))
                    out = {
                        k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS
                    }
                    return web.Response(status=answer.status, body=payload, headers=out)
            except aiohttp.ClientConnectionError:
                continue  # that replica is down: the next one
        return web.Response(status=502, text="no upstream reachable")
