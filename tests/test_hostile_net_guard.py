"""The SSRF guard: one parser, its address rules, a transport that pins checked addresses."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.config import ConfigError, load_settings
from bot.media.net_guard import UnsafeURL, check_public_url, guarded_transport

WRAPPED_PRIVATE = [
    "https://[::127.0.0.1]/",  # IPv4-compatible loopback
    "https://[::10.0.0.1]/",
    "https://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "https://[64:ff9b:1::a00:1]/",  # local-use NAT64 of 10.0.0.1
    "https://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
]
ODD_FORMS = [
    "https://8.8.8.8%25.evil.example/",  # used to be read as the literal 8.8.8.8, with no DNS
    "https://127.0.0.1%2509/",
    "https://1.1.1.1\\@127.0.0.1/",  # parsers disagree on the backslash
    "https://exa mple.com/",
    "https://example.com\t/",
    "https://8.8.8.8:70000/",
]


@pytest.mark.parametrize("url", WRAPPED_PRIVATE)
async def test_ipv4_wrapped_in_ipv6_is_judged_by_the_ipv4(url: str) -> None:
    with pytest.raises(UnsafeURL, match="not a public address"):
        await check_public_url(url, allow_private=False)


@pytest.mark.parametrize("url", ODD_FORMS)
async def test_odd_forms_are_refused_before_any_lookup(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    async def getaddrinfo(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    with pytest.raises(UnsafeURL):
        await check_public_url(url, allow_private=False)
    assert asked == []


@pytest.mark.parametrize("url", [u.rstrip("/") for u in WRAPPED_PRIVATE])
def test_public_base_url_uses_the_same_rules(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {"TELEGRAM_BOT_TOKEN": "123:abc", "PUBLIC_BASE_URL": url, "EVOLINK_API_KEY": "k"},
            env_file=None,
        )
    assert any("PUBLIC_BASE_URL" in p and "not a public host" in p for p in caught.value.problems)


@pytest.fixture(name="local_server")
async def _local_server() -> AsyncIterator[tuple[int, list[str]]]:
    hits: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="inside")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield port, hits
    await runner.cleanup()


async def test_dns_rebinding_between_check_and_connect_is_refused(
    local_server: tuple[int, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check sees a public address, the connection's own look-up gets 127.0.0.1: the
    transport resolves and checks again and never connects there."""
    port, hits = local_server
    answers = iter(["93.184.216.34", "127.0.0.1"])

    async def getaddrinfo(host: str, port_: int, *args: Any, **kwargs: Any) -> list[Any]:
        assert host == "rebind.example"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port_))]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    url = f"http://rebind.example:{port}/video.mp4"
    await check_public_url(url, allow_private=False)  # first answer: public
    async with httpx.AsyncClient(transport=guarded_transport(False), trust_env=False) as client:
        with pytest.raises(httpx.ConnectError, match="SSRF guard"):
            await client.get(url)
    assert hits == []


async def test_the_transport_connects_when_private_addresses_are_allowed(
    local_server: tuple[int, list[str]],
) -> None:
    port, hits = local_server
    async with httpx.AsyncClient(transport=guarded_transport(True), trust_env=False) as client:
        response = await client.get(f"http://127.0.0.1:{port}/ok")
    assert response.text == "inside" and hits == ["/ok"]


async def test_the_transport_refuses_a_literal_private_address(
    local_server: tuple[int, list[str]],
) -> None:
    port, hits = local_server
    async with httpx.AsyncClient(transport=guarded_transport(False), trust_env=False) as client:
        for host in ("127.0.0.1", "[::ffff:127.0.0.1]", "localhost"):
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://{host}:{port}/x")
    assert hits == []
