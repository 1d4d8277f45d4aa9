"""download_video against a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from bot.media import download
from bot.media.download import DownloadFailed, VideoTooLarge, download_video
from bot.media.net_guard import check_public_url

VIDEO = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2mp41" + os.urandom(300_000)
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01" + os.urandom(50_000)
CAP = 1_000_000
STEP = 64 * 1024


@dataclass
class Server:
    base: str
    paths: list[str] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return self.base + path


def make_app(server: Server) -> web.Application:
    async def video(request: web.Request) -> web.Response:
        return web.Response(body=VIDEO, content_type="video/mp4")

    async def webm(request: web.Request) -> web.Response:
        return web.Response(body=WEBM, content_type="video/webm")

    async def redirect(request: web.Request) -> web.Response:
        left = int(request.match_info["n"])
        raise web.HTTPFound("/video.mp4" if left == 0 else f"/redirect/{left - 1}")

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def to(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["target"])

    async def huge_declared(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = 50 * CAP
        await response.prepare(request)
        await response.write(VIDEO[:STEP])
        await server.release.wait()  # a client that reads on would wait here until teardown
        return response

    async def chunked_big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        body = VIDEO + os.urandom(3 * CAP)
        try:
            for start in range(0, len(body), STEP):
                await response.write(body[start : start + STEP])
        except ConnectionError:
            pass  # the client hung up, as it should
        return response

    async def cut_short(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = len(VIDEO)
        await response.prepare(request)
        await response.write(VIDEO[: len(VIDEO) // 2])
        assert request.transport is not None
        request.transport.close()
        return response

    def fixed(
        body: bytes, content_type: str, status: int = 200
    ) -> Callable[..., Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=body, status=status, content_type=content_type)

        return handler

    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        server.paths.append(request.path)
        return await handler(request)

    app = web.Application(middlewares=[record])
    app.router.add_get("/video.mp4", video)
    app.router.add_get("/clip.webm", webm)
    app.router.add_get("/redirect/{n}", redirect)
    app.router.add_get("/loop", loop)
    app.router.add_get("/to", to)
    app.router.add_get("/huge-declared", huge_declared)
    app.router.add_get("/chunked-big", chunked_big)
    app.router.add_get("/cut-short", cut_short)
    app.router.add_get("/html", fixed(b"<!DOCTYPE html><html>sign in</html>", "text/html"))
    app.router.add_get(
        "/octet-html", fixed(b"<!DOCTYPE html><html></html>", "application/octet-stream")
    )
    app.router.add_get("/json-as-video", fixed(b'{"error": "expired link"}', "video/mp4"))
    app.router.add_get("/empty", fixed(b"", "video/mp4"))
    app.router.add_get("/broken", fixed(b"oops", "text/plain", status=500))
    return app


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server(base="")
    runner = web.AppRunner(make_app(state))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert runner.addresses
    host, port = runner.addresses[0][:2]
    state.base = f"http://{host}:{port}"
    yield state
    state.release.set()
    await runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as http:
        yield http


def read(path: Path) -> bytes:
    return path.read_bytes()


def write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def exists(path: Path) -> bool:
    return path.exists()


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    folder = tmp_path / "videos"
    folder.mkdir()
    return folder / "result.mp4"


async def fetch(
    client: httpx.AsyncClient, url: str, dest: Path, *, max_bytes: int = CAP, allow: bool = True
) -> int:
    return await asyncio.wait_for(
        download_video(client, url, dest, max_bytes=max_bytes, allow_private=allow), timeout=10
    )


async def test_success_writes_the_exact_bytes(
    server: Server, client: httpx.AsyncClient, dest: Path
) -> None:
    written = await fetch(client, server.url("/video.mp4"), dest)

    assert written == len(VIDEO)
    assert read(dest) == VIDEO
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]


async def test_webm_is_accepted(server: Server, client: httpx.AsyncClient, dest: Path) -> None:
    assert await fetch(client, server.url("/clip.webm"), dest) == len(WEBM)
    assert read(dest) == WEBM


async def test_redirects_followed_up_to_five(
    server: Server, client: httpx.AsyncClient, dest: Path
) -> None:
    assert await fetch(client, server.url("/redirect/4"), dest) == len(VIDEO)
    assert read(dest) == VIDEO
    assert server.paths == [f"/redirect/{n}" for n in (4, 3, 2, 1, 0)] + ["/video.mp4"]


async def test_too_many_redirects(server: Server, client: httpx.AsyncClient, dest: Path) -> None:
    with pytest.raises(DownloadFailed, match="redirects"):
        await fetch(client, server.url("/loop"), dest)
    assert server.paths == ["/loop"] * 6
    assert list(dest.parent.iterdir()) == []


async def test_declared_size_over_cap_refused_before_reading(
    server: Server, client: httpx.AsyncClient, dest: Path
) -> None:
    # The body never completes, so reading it would hang until wait_for gives up.
    with pytest.raises(VideoTooLarge) as caught:
        await fetch(client, server.url("/huge-declared"), dest)
    assert caught.value.size == 50 * CAP
    assert list(dest.parent.iterdir()) == []


async def test_chunked_body_over_cap_aborted(
    server: Server, client: httpx.AsyncClient, dest: Path
) -> None:
    with pytest.raises(VideoTooLarge) as caught:
        await fetch(client, server.url("/chunked-big"), dest)
    assert CAP < caught.value.size <= CAP + STEP
    assert list(dest.parent.iterdir()) == []


async def test_body_cut_short_leaves_no_partial_file(
    server: Server, client: httpx.AsyncClient, dest: Path
) -> None:
    with pytest.raises(DownloadFailed, match="transport error"):
        await fetch(client, server.url("/cut-short"), dest)
    assert list(dest.parent.iterdir()) == []


async def test_existing_dest_untouched_on_failure(
    server: Server, client: httpx.AsyncClient, dest: Path
) -> None:
    write(dest, b"previous")
    with pytest.raises(VideoTooLarge):
        await fetch(client, server.url("/chunked-big"), dest)
    assert read(dest) == b"previous"
    assert list(dest.parent.iterdir()) == [dest]


@pytest.mark.parametrize(("path", "status"), [("/missing", 404), ("/broken", 500)])
async def test_http_errors(
    server: Server, client: httpx.AsyncClient, dest: Path, path: str, status: int
) -> None:
    with pytest.raises(DownloadFailed) as caught:
        await fetch(client, server.url(path), dest)
    assert caught.value.status == status
    assert not exists(dest)


@pytest.mark.parametrize("path", ["/html", "/octet-html", "/json-as-video", "/empty"])
async def test_non_video_bodies_refused(
    server: Server, client: httpx.AsyncClient, dest: Path, path: str
) -> None:
    with pytest.raises(DownloadFailed, match="not a video"):
        await fetch(client, server.url(path), dest)
    assert list(dest.parent.iterdir()) == []


async def test_private_url_refused_without_any_request(
    server: Server, client: httpx.AsyncClient, dest: Path
) -> None:
    with pytest.raises(DownloadFailed, match="unsafe URL"):
        await fetch(client, server.url("/video.mp4"), dest, allow=False)
    assert server.paths == []
    assert not exists(dest)


@pytest.mark.parametrize(
    "target",
    [
        "https://10.0.0.5/video.mp4",
        "https://[::ffff:127.0.0.1]/video.mp4",
        "https://169.254.169.254/latest/meta-data/",
        "http://10.0.0.6/video.mp4",  # refused for its address (http itself is allowed)
        "file:///etc/passwd",
    ],
)
async def test_redirect_target_rechecked_by_the_guard(
    server: Server,
    client: httpx.AsyncClient,
    dest: Path,
    monkeypatch: pytest.MonkeyPatch,
    target: str,
) -> None:
    # The local server stands in for a public host: only its first URL is trusted; every other
    # URL meets the real guard with private addresses refused.
    start = server.url(f"/to?{httpx.QueryParams({'target': target})}")
    checked: list[str] = []

    async def guard(url: str, *, allow_private: bool) -> None:
        checked.append(url)
        assert allow_private is False
        if url != start:
            await check_public_url(url, allow_private=False)

    monkeypatch.setattr(download, "check_public_url", guard)

    with pytest.raises(DownloadFailed, match="unsafe URL"):
        await fetch(client, start, dest, allow=False)
    assert len(checked) == 2 and checked[0] == start  # aiohttp normalises the target's spelling
    assert httpx.URL(checked[1]).path == httpx.URL(target).path
    assert server.paths == ["/to"]
    assert list(dest.parent.iterdir()) == []
