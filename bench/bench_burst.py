"""A burst of users: N users send a photo in the same second, through the webhook, while
Telegram's flood limits are enforced; time until every user has the options message, as a ratio
to the floor those limits set (N / 30 s).

The fake Bot API counts calls but does not enforce limits by the clock, so a small proxy here
does, in front of it: at most 30 sending calls (send*, edit*, copy*, forward*) per second overall
and 1 per second per chat; beyond, Telegram's 429 with `retry_after`. The bot (`python -m bot`,
webhook mode) talks to the proxy; updates come from the fake's webhook delivery.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (
    QUICK,
    Figure,
    bot_env,
    bot_process,
    fakes,
    free_port,
    save,
)

from bot.testing.sample_media import make_sample_photo
from tests.e2e_helpers import is_options_message

WAIT_S = 60 if QUICK else 240
HERE_RESULTS = Path(__file__).resolve().parent / "results"
USERS = 60 if QUICK else int(os.environ.get("BENCH_USERS", "1000"))
GLOBAL_PER_S = 30.0
LIMITED = ("sendmessage", "sendphoto", "sendvideo", "senddocument", "edit", "copy", "forward")


class FloodProxy:
    """Forwards every request to the fake; refuses sending calls beyond Telegram's limits."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.tokens = GLOBAL_PER_S
        self.at = time.monotonic()
        self.chat_last: dict[str, float] = {}
        self.refused: Counter[str] = Counter()
        self.session: aiohttp.ClientSession | None = None

    def _retry_after(self, method: str, chat: str | None) -> float:
        now = time.monotonic()
        self.tokens = min(GLOBAL_PER_S, self.tokens + (now - self.at) * GLOBAL_PER_S)
        self.at = now
        wait = 0.0
        if chat is not None and now - self.chat_last.get(chat, -1e9) < 1.0:
            wait = 1.0 - (now - self.chat_last[chat])
        if self.tokens < 1.0:
            wait = max(wait, (1.0 - self.tokens) / GLOBAL_PER_S)
        if wait > 0:
            return wait
        self.tokens -= 1.0
        if chat is not None:
            self.chat_last[chat] = now
        return 0.0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        assert self.session is not None
        body = await request.read()
        method = request.path.rsplit("/", 1)[-1]
        if method.lower().startswith(LIMITED):
            chat = await _chat_of(request, body)
            wait = self._retry_after(method, chat)
            if wait > 0:
                self.refused[method] += 1
                retry = max(1, math.ceil(wait))
                return web.json_response(
                    {"ok": False, "error_code": 429,
                     "description": f"Too Many Requests: retry after {retry}",
                     "parameters": {"retry_after": retry}},
                    status=429,
                )  # fmt: skip
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type",)}
        async with self.session.request(
            request.method, self.upstream + request.path_qs, data=body, headers=headers
        ) as answer:
            data = await answer.read()
            return web.Response(
                body=data, status=answer.status,
                content_type=answer.content_type, charset=answer.charset,
            )  # fmt: skip


async def _chat_of(request: web.Request, body: bytes) -> str | None:
    if request.content_type == "application/json":
        import json

        try:
            value = json.loads(body).get("chat_id")
        except (ValueError, AttributeError):
            return None
        return None if value is None else str(value)
    if request.content_type == "application/x-www-form-urlencoded":
        from urllib.parse import parse_qs

        values = parse_qs(body.decode(errors="replace")).get("chat_id")
        return values[0] if values else None
    return None  # multipart (uploads): not part of this benchmark


async def main() -> None:
    photo = make_sample_photo(640, 480)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        async with fakes() as (tg, evolink):
            proxy = FloodProxy(tg.base_url)
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", proxy.handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            proxy_port = free_port()
            await web.TCPSite(runner, "127.0.0.1", proxy_port).start()
            proxy.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=200), auto_decompress=False
            )
            try:
                env = bot_env(tg, evolink, workdir)
                env |= {
                    "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{proxy_port}",
                    "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{env['HTTP_PORT']}/tg-hook",
                    "TELEGRAM_WEBHOOK_SECRET": "bench-webhook-secret",
                    "TELEGRAM_LOCAL_MODE": "true",  # plain http:// webhook on 127.0.0.1
                    "DAILY_QUOTA": "5",
                }
                async with bot_process(env, workdir):
                    await tg.wait_until(lambda: tg.webhook_url is not None, timeout=60)
                    users = range(900_000, 900_000 + USERS)
                    for user in users:  # all in the same second (the fake's cost is not counted:
                        tg.user_photo(user, user, photo, "waves")  # delivery starts after)
                    start = time.monotonic()

                    def served() -> int:
                        chats = {
                            c.params["chat_id"] for c in tg.calls_of("sendMessage")
                            if c.status == 200 and is_options_message(c)
                        }  # fmt: skip
                        return len(chats & set(users))

                    try:
                        await tg.wait_until(lambda: served() == USERS, timeout=WAIT_S)
                    except TimeoutError:
                        pass  # reported below: how many users never got their options
                    elapsed = time.monotonic() - start
                    shutil.copy(workdir / "bot.log", HERE_RESULTS / "burst-bot.log")
                    options = [
                        c for c in tg.calls_of("sendMessage")
                        if c.status == 200 and is_options_message(c)
                    ]  # fmt: skip
                    per_chat = Counter(c.params["chat_id"] for c in options)
                    t0 = min(c.at for c in tg.calls_of("getFile"))
                    timeline = {
                        method: [
                            round(
                                sorted(c.at - t0 for c in tg.calls_of(method))[
                                    int(q * (len(tg.calls_of(method)) - 1))
                                ],
                                2,
                            )
                            for q in (0.1, 0.5, 0.9, 1.0)
                        ]
                        for method in ("getFile", "sendMessage")
                    }
            finally:
                await proxy.session.close()
                await runner.cleanup()
    floor = USERS / GLOBAL_PER_S
    duplicates = sum(n - 1 for n in per_chat.values())
    missing = USERS - len(per_chat)
    save(
        "burst",
        [
            Figure(
                "burst", f"{USERS} users' photos -> every options message", elapsed, "s", floor,
                f"{USERS} / 30 s (Telegram's global flood limit)", "<= 1.15x",
                elapsed / floor <= 1.15 and missing == 0 and duplicates == 0,
                f"users without options: {missing}; duplicates: {duplicates}; "
                f"429s answered: {sum(proxy.refused.values())}",
            ),
        ],
        {"duplicates": duplicates, "missing": missing, "refused": dict(proxy.refused),
         "timeline": timeline},
    )  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
