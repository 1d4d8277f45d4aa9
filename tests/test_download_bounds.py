"""Download bombs and endless results (issue 13, findings 3 and 4): every result download is
bounded in compressed and decoded bytes, idle time, total time and the job's deadline, and an
oversized or endless result fails the job with a refund, never a link."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import os
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from bot.media.download import (
    DOWNLOAD_LIMITS,
    DownloadFailed,
    VideoTooLarge,
    download_video,
    make_download_client,
)
from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from bot.testing.sample_media import make_big_file
from tests.conftest import USER, BotFactory
from tests.e2e_helpers import options_message_id, press, send_photo_and_get_options
from tests.lifecycle_support import swap_in_context

HEAD = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2mp41"
VIDEO = HEAD + os.urandom(200_000)
CAP = 1_000_000
MB = 1024 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def gzip_bomb(layers: int, size: int) -> bytes:
    """`size` bytes of a video-looking body, gzip-compressed `layers` times (tiny on the wire)."""
    body = HEAD + bytes(size - len(HEAD))
    for _ in range(layers):
        body = gzip.compress(body, compresslevel=9)
    return body


def encoded(body: bytes, coding: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            body=body, headers={"Content-Type": "video/mp4", "Content-Encoding": coding}
        )

    return handler


async def endless(request: web.Request) -> web.StreamResponse:
    """A CDN that trickles a valid-looking video forever, a little at a time."""
    response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(HEAD)
    try:
        while True:
            await response.write(b"\x00" * 1024)
            await asyncio.sleep(0.01)  # the hostile pace, not a synchronisation
    except ConnectionError:
        pass
    return response


async def stalled(request: web.Request) -> web.StreamResponse:
    """Headers and the first bytes, then silence."""
    response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
    response.content_length = len(VIDEO)
    await response.prepare(request)
    await response.write(VIDEO[:1000])
    await asyncio.Event().wait()  # cancelled at teardown
    return response


async def declared_terabyte(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
    response.content_length = 10**12
    await response.prepare(request)
    await response.write(VIDEO[:1000])
    await asyncio.Event().wait()
    return response


@pytest.fixture
async def cdn() -> AsyncIterator[str]:
    app = web.Application()
    plain_gzip = gzip.compress(VIDEO)
    app.router.add_get("/bomb-2x", encoded(gzip_bomb(2, 200 * MB), "gzip, gzip"))
    app.router.add_get("/bomb-1x", encoded(gzip_bomb(1, 50 * MB), "gzip"))
    app.router.add_get("/gzip", encoded(plain_gzip, "gzip"))
    app.router.add_get("/deflate", encoded(zlib.compress(VIDEO), "deflate"))
    app.router.add_get("/brotli", encoded(VIDEO, "br"))
    app.router.add_get("/gzip-cut", encoded(plain_gzip[: len(plain_gzip) // 2], "gzip"))
    app.router.add_get("/endless", endless)
    app.router.add_get("/stalled", stalled)
    app.router.add_get("/terabyte", declared_terabyte)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


def leftovers(folder: Path) -> list[Path]:
    """Files a failed download left behind (there must be none, not even a .part)."""
    return list(folder.iterdir())


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_download_client() as http:
        yield http


async def fetch(
    client: httpx.AsyncClient, url: str, dest: Path, budget: float | None = None
) -> int:
    return await download_video(
        client, url, dest, max_bytes=CAP, allow_private=True, time_budget_s=budget
    )


async def test_stacked_gzip_bomb_is_refused_without_decoding(
    cdn: str, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(DownloadFailed, match="unsupported content encoding"):
            await fetch(client, f"{cdn}/bomb-2x", tmp_path / "v.mp4")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MB, f"decoding a 3 kB body used {peak} bytes"
    assert leftovers(tmp_path) == []


async def test_gzip_bomb_stops_at_the_decoded_cap_in_bounded_memory(
    cdn: str, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(VideoTooLarge) as caught:
            await fetch(client, f"{cdn}/bomb-1x", tmp_path / "v.mp4")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert CAP < caught.value.size <= CAP + 1 * MB  # stopped one decode step past the cap
    assert peak < 8 * MB, f"a 50 MB bomb used {peak} bytes of memory"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("path", ["/gzip", "/deflate"])
async def test_an_honestly_compressed_video_is_decoded(
    cdn: str, client: httpx.AsyncClient, tmp_path: Path, path: str
) -> None:
    dest = tmp_path / "v.mp4"
    assert await fetch(client, cdn + path, dest) == len(VIDEO)
    assert dest.read_bytes() == VIDEO


@pytest.mark.parametrize(
    ("path", "reason"),
    [("/brotli", "unsupported content encoding"), ("/gzip-cut", "cut short|transport error")],
)
async def test_unknown_or_truncated_codings_fail(
    cdn: str, client: httpx.AsyncClient, tmp_path: Path, path: str, reason: str
) -> None:
    with pytest.raises(DownloadFailed, match=reason):
        await fetch(client, cdn + path, tmp_path / "v.mp4")
    assert leftovers(tmp_path) == []


async def test_an_endless_body_stops_at_the_time_budget(
    cdn: str, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    with pytest.raises(DownloadFailed, match="out of time") as caught:
        await fetch(client, f"{cdn}/endless", tmp_path / "v.mp4", budget=0.3)
    assert not caught.value.transient
    assert leftovers(tmp_path) == []


async def test_a_job_past_its_deadline_does_not_start_a_download(
    cdn: str, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    with pytest.raises(DownloadFailed, match="deadline"):
        await fetch(client, f"{cdn}/gzip", tmp_path / "v.mp4", budget=-1.0)


async def test_a_stalled_body_hits_the_idle_timeout(cdn: str, tmp_path: Path) -> None:
    # The production idle timeout is 30 s; the same client shape with a short read timeout.
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, read=0.2)) as short:
        with pytest.raises(DownloadFailed, match=r"timed out|out of time"):
            await fetch(short, f"{cdn}/stalled", tmp_path / "v.mp4", budget=3.0)


async def test_a_declared_terabyte_is_refused_before_reading(
    cdn: str, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    with pytest.raises(VideoTooLarge) as caught:
        await fetch(client, f"{cdn}/terabyte", tmp_path / "v.mp4")
    assert caught.value.size == 10**12


def test_downloads_have_their_own_bounded_pool_and_ask_for_no_coding() -> None:
    client = make_download_client()
    try:
        assert client.headers["accept-encoding"] == "identity"
        assert DOWNLOAD_LIMITS.max_connections is not None
        assert client.timeout.read is not None and client.timeout.read <= 60
        assert not client.follow_redirects
    finally:
        asyncio.run(client.aclose())


async def test_provider_calls_go_on_while_every_download_connection_is_stalled(
    cdn: str, tmp_path: Path, start_bot: BotFactory, evolink: EvolinkFake, tg: FakeBotApi
) -> None:
    """Finding 4: trickling downloads used up the pool shared with provider calls."""
    async with start_bot() as runtime:
        assert runtime.ctx is not None and runtime.ctx.downloads is not runtime.ctx.http
        limit = DOWNLOAD_LIMITS.max_connections or 0
        stalls = [
            asyncio.create_task(fetch(runtime.ctx.downloads, f"{cdn}/stalled", tmp_path / f"{i}"))
            for i in range(limit + 2)
        ]
        try:
            _photo, options = await send_photo_and_get_options(tg, USER, "waves")
            await press(tg, USER, USER, options_message_id(tg, USER, options), "Generate")
            task = await evolink.wait_task()  # the create call was not starved
            assert task.id
        finally:
            for stall in stalls:
                stall.cancel()
            await asyncio.gather(*stalls, return_exceptions=True)


async def test_a_result_over_the_result_cap_fails_with_a_refund_and_no_link(
    tg: FakeBotApi, evolink: EvolinkFake, start_bot: BotFactory
) -> None:
    async with start_bot() as runtime:
        ctx = runtime.ctx
        assert ctx is not None
        tighter = dataclasses.replace(
            ctx.settings, max_upload_bytes=1 * MB, max_result_bytes=2 * MB
        )
        swap_in_context(ctx, settings=tighter)
        _photo, options = await send_photo_and_get_options(tg, USER, "waves")
        await press(tg, USER, USER, options_message_id(tg, USER, options), "Generate")
        task = await evolink.wait_task()
        evolink.succeed(task.id, video=make_big_file(3 * MB))
        # The failure is explained once, in a new message (the status message points to it).
        failed = await tg.wait_call(
            "sendMessage", lambda c: "could not download" in c.params.get("text", "")
        )
        assert failed
        kinds = [row["kind"] for row in await ctx.ledger.rows(USER)]
        assert kinds == ["allowance", "reserve", "refund"]
    links = [c for c in tg.calls_of("sendMessage") if "/files/" in c.params.get("text", "")]
    assert links == [], "an oversized result must never be offered as a link"
