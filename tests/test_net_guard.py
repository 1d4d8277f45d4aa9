"""check_public_url and is_private_host_literal, on literals, localhost and a fake resolver."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from bot.media.net_guard import UnsafeURL, check_public_url, is_private_host_literal

PRIVATE_URLS = [
    "https://127.0.0.1/video.mp4",
    "https://127.1/",  # legacy short form
    "https://2130706433/",  # decimal form of 127.0.0.1
    "https://0x7f.1/",
    "https://localhost:8443/x",
    "https://10.1.2.3/",
    "https://172.16.0.1/",
    "https://192.168.1.1/",
    "https://100.64.0.1/",  # carrier-grade NAT
    "https://169.254.169.254/latest/meta-data/",  # link-local cloud metadata
    "https://0.0.0.0/",
    "https://224.0.0.1/",
    "https://240.0.0.1/",
    "https://255.255.255.255/",
    "https://[::1]/",
    "https://[::]/",
    "https://[fd12:3456::1]/",  # unique local (ULA)
    "https://[fe80::1]/",
    "https://[fe80::1%25eth0]/",
    "https://[fec0::1]/",
    "https://[ff02::1]/",
    "https://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "https://[::ffff:10.0.0.1]/",
    "https://[2002:a00:1::]/",  # 6to4 wrapping 10.0.0.1
    "https://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
async def test_private_addresses_refused(url: str) -> None:
    with pytest.raises(UnsafeURL, match="not a public address"):
        await check_public_url(url, allow_private=False)


@pytest.mark.parametrize("url", [*PRIVATE_URLS[:3], "http://127.0.0.1:8080/x", "http://[::1]/"])
async def test_private_addresses_allowed_when_asked(url: str) -> None:
    await check_public_url(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "https://8.8.8.8/result.mp4",
        "https://93.184.216.34:8443/a?b=c",
        "https://[2606:4700:4700::1111]/v.mp4",
        "https://[::ffff:8.8.8.8]/",
        "https://[64:ff9b::808:808]/",  # NAT64 of a public address
    ],
)
async def test_public_literals_pass(url: str) -> None:
    await check_public_url(url, allow_private=False)


@pytest.mark.parametrize("url", ["ftp://8.8.8.8/v.mp4", "file:///etc/passwd", "//8.8.8.8/x"])
async def test_only_http_and_https(url: str) -> None:
    with pytest.raises(UnsafeURL, match="scheme"):
        await check_public_url(url, allow_private=False)


async def test_the_decision_is_on_the_address_never_on_the_scheme() -> None:
    await check_public_url("http://8.8.8.8/v.mp4", allow_private=False)
    with pytest.raises(UnsafeURL, match="not a public address"):
        await check_public_url("http://10.0.0.1/v.mp4", allow_private=False)
    with pytest.raises(UnsafeURL, match="scheme"):
        await check_public_url("http://8.8.8.8/v.mp4", allow_private=False, require_https=True)


async def test_other_schemes_refused_even_when_private_allowed() -> None:
    for url in ("file:///etc/passwd", "gopher://127.0.0.1/", "ftp://127.0.0.1/"):
        with pytest.raises(UnsafeURL, match="scheme"):
            await check_public_url(url, allow_private=True)


@pytest.mark.parametrize(
    "url", ["https://user:pw@8.8.8.8/", "https://user@8.8.8.8/", "https://a:@127.0.0.1/"]
)
async def test_credentials_refused(url: str) -> None:
    for allow in (False, True):
        with pytest.raises(UnsafeURL, match="credentials"):
            await check_public_url(url, allow_private=allow)


@pytest.mark.parametrize("url", ["https:///path", "https://[::1/", "https://8.8.8.8:99999/"])
async def test_malformed_refused(url: str) -> None:
    with pytest.raises(UnsafeURL):
        await check_public_url(url, allow_private=False)


def fake_resolver(answers: dict[str, list[str]], asked: list[str]) -> Any:
    async def getaddrinfo(host: str, port: int, **kwargs: Any) -> list[Any]:
        asked.append(host)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "not found")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    return getaddrinfo


async def test_names_are_resolved_and_every_address_must_be_public(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []
    answers = {
        "cdn.example.com": ["93.184.216.34", "2606:2800:220:1::1"],
        "rebind.example.com": ["93.184.216.34", "10.0.0.7"],
        "ula.example.com": ["fd00::5"],
    }
    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "getaddrinfo", fake_resolver(answers, asked))

    await check_public_url("https://cdn.example.com/v.mp4", allow_private=False)
    for host in ("rebind.example.com", "ula.example.com"):
        with pytest.raises(UnsafeURL, match="not a public address"):
            await check_public_url(f"https://{host}/v.mp4", allow_private=False)
    with pytest.raises(UnsafeURL, match="does not resolve"):
        await check_public_url("https://missing.example.com/", allow_private=False)

    assert asked == [
        "cdn.example.com",
        "rebind.example.com",
        "ula.example.com",
        "missing.example.com",
    ]


async def test_no_lookup_when_private_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fake_resolver({}, asked))

    await check_public_url("http://anything.example/v.mp4", allow_private=True)

    assert asked == []


async def test_unsafe_url_reason_never_contains_the_path() -> None:
    with pytest.raises(UnsafeURL) as caught:
        await check_public_url("https://10.0.0.1/secret-token?sig=abc", allow_private=False)

    assert "secret-token" not in str(caught.value) and "sig=abc" not in caught.value.reason


@pytest.mark.parametrize(
    ("host", "private"),
    [
        ("localhost", True),
        ("LOCALHOST.", True),
        ("app.localhost", True),
        ("printer.local", True),
        ("db.internal", True),
        ("nas.home.arpa", True),
        ("myserver", True),
        ("127.0.0.1", True),
        ("127.1", True),
        ("10.0.0.1", True),
        ("192.168.0.10", True),
        ("[::1]", True),
        ("::1", True),
        ("fd00::1", True),
        ("[::ffff:192.168.1.1]", True),
        ("", True),
        ("bot.example.com", False),
        ("8.8.8.8", False),
        ("[2606:4700::1]", False),
        ("a1b2.example.org", False),
    ],
)
def test_is_private_host_literal(host: str, private: bool) -> None:
    assert is_private_host_literal(host) is private
