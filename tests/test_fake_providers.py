"""Behaviour every fake provider shares (auth, faults, scripts, auto mode, waits), per vendor.

Each vendor gets a small `Driver` that knows its create body, its id field and its query URL,
so one test body checks all four fakes the same way over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from PIL import Image

from bot.testing.providers import (
    AimlapiFake,
    ApikleyFake,
    EvolinkFake,
    FakeProviderServer,
    FoxapiFake,
    Recorded,
    aimlapi,
    apikley,
    foxapi,
)
from bot.testing.providers.evolink import GROK
from bot.testing.providers.receivers import CallbackReceiver, ImageHost
from bot.testing.sample_media import make_big_file, make_sample_mp4, make_sample_photo

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Driver:
    """How to talk to one vendor's fake."""

    vendor: str
    make: Callable[..., FakeProviderServer]
    create_path: str
    body: Callable[[str, str | None], dict[str, Any]]  # (image URL, callback URL) -> JSON
    task_id: Callable[[dict[str, Any]], str]
    query: Callable[[str], tuple[str, dict[str, str]]]  # task id -> (path, params)
    status: Callable[[dict[str, Any]], str]
    callbacks: bool


def _evolink_body(image: str, callback: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": GROK, "prompt": "dance", "image_urls": [image]}
    if callback:
        body["callback_url"] = callback
    return body


def _apikley_body(image: str, callback: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": apikley.MODEL,
        "input": {"image_urls": [image], "prompt": "dance", "mode": "normal"},
    }
    if callback:
        body["callBackUrl"] = callback
    return body


DRIVERS = {
    "evolink": Driver(
        "evolink",
        functools.partial(EvolinkFake, loopback_callbacks=True),  # called back on 127.0.0.1
        "/v1/videos/generations",
        _evolink_body,
        lambda j: str(j["id"]),
        lambda t: (f"/v1/tasks/{t}", {}),
        lambda j: str(j["status"]),
        callbacks=True,
    ),
    "apikley": Driver(
        "apikley",
        ApikleyFake,
        "/api/v1/jobs/createTask",
        _apikley_body,
        lambda j: str(j["data"]["taskId"]),
        lambda t: ("/api/v1/jobs/recordInfo", {"taskId": t}),
        lambda j: str(j["data"]["state"]),
        callbacks=True,
    ),
    "foxapi": Driver(
        "foxapi",
        FoxapiFake,
        "/v1/videos/generations",
        lambda image, _: {"model": foxapi.MODEL, "prompt": "dance", "image_url": image},
        lambda j: str(j["id"]),
        lambda t: (f"/v1/tasks/{t}", {}),
        lambda j: str(j["status"]),
        callbacks=False,
    ),
    "aimlapi": Driver(
        "aimlapi",
        AimlapiFake,
        "/v2/video/generations",
        lambda image, _: {"model": aimlapi.MODEL, "prompt": "dance", "image_url": image},
        lambda j: str(j["id"]),
        lambda t: ("/v2/video/generations", {"generation_id": t}),
        lambda j: str(j["status"]),
        callbacks=False,
    ),
}
CALLBACK_DRIVERS = [name for name, d in DRIVERS.items() if d.callbacks]


def example(vendor: str, name: str) -> Any:
    """A documented example from tests/data/<vendor>/."""
    return json.loads((DATA / vendor / f"{name}.json").read_text())


@dataclass
class Rig:
    """One running fake, an image host and an authorised client."""

    d: Driver
    fake: FakeProviderServer
    host: ImageHost
    client: httpx.AsyncClient

    async def create(self, callback: str | None = None) -> str:
        resp = await self.client.post(
            self.d.create_path, json=self.d.body(self.host.url("/media/p"), callback)
        )
        assert resp.status_code == 200, resp.text
        return self.d.task_id(resp.json())

    async def get(self, task_id: str) -> httpx.Response:
        path, params = self.d.query(task_id)
        return await self.client.get(path, params=params)

    async def status(self, task_id: str) -> str:
        resp = await self.get(task_id)
        assert resp.status_code == 200, resp.text
        return self.d.status(resp.json())


async def _rig(d: Driver, **kwargs: Any) -> AsyncIterator[Rig]:
    async with d.make(time_scale=0.01, **kwargs) as fake, ImageHost() as host:
        host.add("/media/p", make_sample_photo(), "image/jpeg")
        headers = {"Authorization": f"Bearer {fake.api_key}"}
        async with httpx.AsyncClient(base_url=fake.base_url, headers=headers, timeout=5) as c:
            yield Rig(d, fake, host, c)


@pytest.fixture(params=list(DRIVERS))
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    async for r in _rig(DRIVERS[request.param]):
        yield r


@pytest.fixture(params=CALLBACK_DRIVERS)
async def cb_rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    async for r in _rig(DRIVERS[request.param]):
        yield r


def error_json(rig: Rig, resp: httpx.Response, status: int) -> Any:
    """The error body, which must also match the vendor's documented example keys."""
    body = resp.json()
    name = f"error_{status}"
    if not (DATA / rig.d.vendor / f"{name}.json").exists():
        name = "error_500"  # every status shares the vendor's one error shape
    assert set(body) == set(example(rig.d.vendor, name))
    return body


# -- auth and faults -----------------------------------------------------------------------------
async def test_missing_key_gets_vendor_401(rig: Rig) -> None:
    async with httpx.AsyncClient(base_url=rig.fake.base_url) as anon:
        resp = await anon.post(rig.d.create_path, json=rig.d.body(rig.host.url("/media/p"), None))
    assert resp.status_code == 401
    error_json(rig, resp, 401)
    assert rig.fake.tasks == {}
    assert rig.fake.requests[-1].route == "create"


async def test_429_with_retry_after_then_recovers(rig: Rig) -> None:
    rig.fake.inject("429", "create", retry_after=3)
    body = rig.d.body(rig.host.url("/media/p"), None)
    limited = await rig.client.post(rig.d.create_path, json=body)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3"
    error_json(rig, limited, 429)
    assert rig.fake.tasks == {}
    await rig.create()
    assert len(rig.fake.tasks) == 1


async def test_500_on_query_twice_then_ok(rig: Rig) -> None:
    task_id = await rig.create()
    rig.fake.inject("500", "query", times=2)
    for _ in range(2):
        resp = await rig.get(task_id)
        assert resp.status_code == 500
        error_json(rig, resp, 500)
    assert await rig.status(task_id) == rig.fake.initial_status


async def test_html_502_page(rig: Rig) -> None:
    rig.fake.inject("html502", "create")
    resp = await rig.client.post(rig.d.create_path, json=rig.d.body(rig.host.url("/m"), None))
    assert resp.status_code == 502
    assert resp.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in resp.text


async def test_timeout_on_create_still_makes_the_task(rig: Rig) -> None:
    rig.fake.inject("timeout", "create")
    with pytest.raises(httpx.ReadTimeout):
        await rig.client.post(
            rig.d.create_path, json=rig.d.body(rig.host.url("/media/p"), None), timeout=0.3
        )
    task = await rig.fake.wait_task()
    assert task.status == rig.fake.initial_status  # accepted upstream, outcome unknown to us


async def test_malformed_json_on_query(rig: Rig) -> None:
    task_id = await rig.create()
    rig.fake.inject("malformed", "query")
    resp = await rig.get(task_id)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    with pytest.raises(ValueError):
        json.loads(resp.text)
    assert resp.text  # truncated, not empty


async def test_download_faults_and_result_status(rig: Rig) -> None:
    task_id = await rig.create()
    rig.fake.succeed(task_id)
    url = rig.fake.result_url(task_id)
    video = rig.fake.tasks[task_id].video
    assert video
    rig.fake.inject("500", "download")
    rig.fake.inject("malformed", "download")
    async with httpx.AsyncClient() as cdn:
        assert (await cdn.get(url)).status_code == 500
        cut = await cdn.get(url)
        assert cut.status_code == 200 and cut.content == video[: len(video) // 2]
        assert (await cdn.get(url)).content == video
        rig.fake.result_status = 404
        assert (await cdn.get(url)).status_code == 404


async def test_other_statuses_use_the_vendor_body(rig: Rig) -> None:
    rig.fake.inject("503", "create")
    resp = await rig.client.post(rig.d.create_path, json=rig.d.body(rig.host.url("/m"), None))
    assert resp.status_code == 503
    error_json(rig, resp, 503)


def test_inject_refuses_unknown_faults_and_routes() -> None:
    fake = EvolinkFake()
    with pytest.raises(ValueError):
        fake.inject("teapot", "create")
    with pytest.raises(ValueError):
        fake.inject("500", "upload")
    with pytest.raises(ValueError):
        fake.inject("500", "callback")


# -- lifecycle control ---------------------------------------------------------------------
async def test_script_walks_states_one_per_query(rig: Rig) -> None:
    running = rig.fake.running_statuses[-1]
    rig.fake.script([running, "mystery_state", rig.fake.failed_status], error_code="E42")
    task_id = await rig.create()
    seen = [await rig.status(task_id) for _ in range(4)]
    assert seen == [running, "mystery_state", rig.fake.failed_status, rig.fake.failed_status]
    assert rig.fake.tasks[task_id].error_code == "E42"
    other = await rig.create()  # the script applied to one task only
    assert await rig.status(other) == rig.fake.initial_status


async def test_auto_complete_after_steps(rig: Rig) -> None:
    rig.fake.auto_complete, rig.fake.auto_steps = True, 3
    task_id = await rig.create()
    seen = [await rig.status(task_id) for _ in range(3)]
    assert seen[-1] == rig.fake.success_status
    assert all(s in rig.fake.running_statuses for s in seen[:-1])
    assert rig.fake.tasks[task_id].video


async def test_auto_delay_completes_without_queries(rig: Rig) -> None:
    rig.fake.auto_complete, rig.fake.auto_delay = True, 0.02
    task_id = await rig.create()
    await rig.fake.wait_status(task_id, rig.fake.success_status)
    assert rig.fake.tasks[task_id].queries == 0


async def test_wait_request_sees_past_and_future(rig: Rig) -> None:
    task_id = await rig.create()
    past = await rig.fake.wait_request(rig.d.create_path)
    assert past.json == rig.d.body(rig.host.url("/media/p"), None)
    assert past.headers["authorization"] == f"Bearer {rig.fake.api_key}"
    path, _ = rig.d.query(task_id)

    def is_get(r: Recorded) -> bool:
        return r.method == "GET"

    with pytest.raises(TimeoutError):  # nothing polled yet
        await rig.fake.wait_request(path, where=is_get, timeout=0.05)
    waiter = asyncio.create_task(rig.fake.wait_request(path, where=is_get))
    await rig.get(task_id)
    future = await waiter
    assert future.route == "query"


# -- callbacks (vendors that send them) ------------------------------------------------------
async def test_callback_before_create_response(cb_rig: Rig) -> None:
    async with CallbackReceiver() as receiver:
        cb_rig.fake.script([cb_rig.fake.success_status], on_create=True)
        resp = await cb_rig.client.post(
            cb_rig.d.create_path,
            json=cb_rig.d.body(cb_rig.host.url("/media/p"), receiver.url("/cb")),
        )
        # The callback was delivered while the create request was still open.
        assert len(receiver.received) == 1
        assert resp.status_code == 200


async def test_dropped_and_malformed_callbacks(cb_rig: Rig) -> None:
    async with CallbackReceiver() as receiver:
        first = await cb_rig.create(receiver.url("/cb/1"))
        second = await cb_rig.create(receiver.url("/cb/2"))
        cb_rig.fake.inject("drop", "callback")
        cb_rig.fake.inject("malformed", "callback")
        cb_rig.fake.succeed(first)
        await cb_rig.fake.wait_callback_attempts(1)
        cb_rig.fake.succeed(second)
        (got,) = await receiver.wait(1)
        await cb_rig.fake.idle()
        assert [a.outcome for a in cb_rig.fake.callback_attempts] == ["dropped", 200]
        assert got.path == "/cb/2"
        with pytest.raises(ValueError):
            json.loads(got.body)


# -- sample media ---------------------------------------------------------------------------------
def test_sample_mp4_is_real_h264_with_aac() -> None:
    data = make_sample_mp4(1.0, 64, 48)
    assert make_sample_mp4(1.0, 64, 48) is data  # cached
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "h264"
        assert (video.codec_context.width, video.codec_context.height) == (64, 48)
        assert [s.codec_context.name for s in container.streams.audio] == ["aac"]
        assert container.duration is not None
        assert abs(container.duration / 1_000_000 - 1.0) < 0.1
        frames = [f.to_image().tobytes() for f in container.decode(video=0)]
    assert len(frames) == 12
    assert frames[0] != frames[-1]  # the picture moves


def test_sample_mp4_without_audio() -> None:
    with av.open(io.BytesIO(make_sample_mp4(0.5, 33, 21, with_audio=False, fps=8))) as c:
        assert len(c.streams.audio) == 0
        v = c.streams.video[0].codec_context
        assert (v.width, v.height, v.pix_fmt) == (34, 22, "yuv420p")  # rounded up to even


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_sample_photo_formats(fmt: str) -> None:
    with Image.open(io.BytesIO(make_sample_photo(320, 200, fmt))) as image:
        assert (image.format, image.size) == (fmt, (320, 200))
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 100  # structure, not a flat colour


def test_big_file_is_a_padded_playable_mp4() -> None:
    size = 3 * 1024 * 1024
    data = make_big_file(size)
    assert len(data) == size
    with av.open(io.BytesIO(data)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 12
