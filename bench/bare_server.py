"""The baseline server for the callback benchmarks: a bare aiohttp handler that answers 200.

Usage: python bench/bare_server.py PORT
"""

from __future__ import annotations

import sys

from aiohttp import web


async def bare(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def main() -> None:
    app = web.Application()
    app.router.add_post("/callbacks/{provider}/{token}", bare)
    app.router.add_get("/healthz", bare)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
