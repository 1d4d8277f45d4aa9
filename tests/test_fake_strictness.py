"""Issue 11, finding 8: the fakes are as strict as the provider documents, by default.

evolink refuses callbacks its document forbids (http, private addresses, > 2048 characters)
without any opt-in; apikley refuses input fields its page does not list and enforces its
documented limits (25 concurrent tasks, 250 creations per hour); aimlapi honours `aspect_ratio`
and, for image-to-video, picks the resolution from the photo whatever `resolution` says.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.testing.providers import AimlapiFake, ApikleyFake, EvolinkFake
from bot.testing.providers.receivers import ImageHost
from bot.testing.sample_media import make_sample_photo


@pytest.fixture
async def host() -> AsyncIterator[ImageHost]:
    async with ImageHost() as server:
        server.add("/media/photo", make_sample_photo(640, 480), "image/jpeg")
        server.add("/media/portrait", make_sample_photo(480, 854), "image/jpeg")
        yield server


def auth(fake: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {fake.api_key}"}


@pytest.mark.parametrize(
    "callback",
    ["http://127.0.0.1:9/cb", "https://10.0.0.1/cb", "https://bot.example.com/" + "x" * 2048],
)
async def test_evolink_refuses_undocumented_callbacks_by_default(
    host: ImageHost, callback: str
) -> None:
    async with EvolinkFake() as fake, httpx.AsyncClient(base_url=fake.base_url) as c:
        body = {
            "model": "grok-imagine-image-to-video",
            "prompt": "dance",
            "image_urls": [host.url("/media/photo")],
            "callback_url": callback,
        }
        resp = await c.post("/v1/videos/generations", json=body, headers=auth(fake))
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "callback_url"


async def test_evolink_loopback_relaxation_is_only_for_loopback(host: ImageHost) -> None:
    async with (
        EvolinkFake(loopback_callbacks=True) as fake,
        httpx.AsyncClient(base_url=fake.base_url) as c,
    ):
        base = {"model": "grok-imagine-image-to-video", "prompt": "d"}
        base["image_urls"] = [host.url("/media/photo")]  # type: ignore[assignment]
        ok = await c.post(
            "/v1/videos/generations",
            json={**base, "callback_url": "http://127.0.0.1:9/cb"},
            headers=auth(fake),
        )
        private = await c.post(
            "/v1/videos/generations",
            json={**base, "callback_url": "http://10.0.0.1/cb"},
            headers=auth(fake),
        )
    assert ok.status_code == 200 and private.status_code == 400


@pytest.mark.parametrize("field", ["duration", "resolution", "aspect_ratio"])
async def test_apikley_refuses_input_fields_its_page_does_not_list(
    host: ImageHost, field: str
) -> None:
    async with ApikleyFake() as fake, httpx.AsyncClient(base_url=fake.base_url) as c:
        inputs = {"image_urls": [host.url("/media/photo")], "prompt": "dance", field: "6"}
        body = {"model": "grok-imagine/image-to-video", "input": inputs}
        resp = await c.post("/api/v1/jobs/createTask", json=body, headers=auth(fake))
    assert resp.json()["code"] == 422 and field in resp.json()["msg"]
    assert not fake.tasks


async def test_apikley_enforces_its_documented_limits_by_default(host: ImageHost) -> None:
    async with ApikleyFake() as fake, httpx.AsyncClient(base_url=fake.base_url) as c:
        assert (fake.max_concurrent, fake.max_per_hour) == (25, 250)
        body = {
            "model": "grok-imagine/image-to-video",
            "input": {"image_urls": [host.url("/media/photo")], "prompt": "dance"},
        }
        codes = []
        for _ in range(26):
            resp = await c.post("/api/v1/jobs/createTask", json=body, headers=auth(fake))
            codes.append(resp.json()["code"])
        assert codes == [200] * 25 + [429]  # the 26th concurrent task is refused
        for task_id in list(fake.tasks):
            fake.succeed(task_id)
        fake.max_concurrent = None
        for _ in range(225):
            resp = await c.post("/api/v1/jobs/createTask", json=body, headers=auth(fake))
            assert resp.json()["code"] == 200
        resp = await c.post("/api/v1/jobs/createTask", json=body, headers=auth(fake))
        assert resp.json()["code"] == 429  # the 251st creation within the hour


@pytest.mark.parametrize(
    ("path", "aspect", "expected"),
    [
        ("/media/photo", None, (854, 480)),  # documented default 16:9; 480 px photo -> 480p
        ("/media/portrait", "9:16", (480, 854)),
        ("/media/photo", "1:1", (480, 480)),
    ],
)
async def test_aimlapi_honours_aspect_and_picks_the_resolution_from_the_photo(
    host: ImageHost, path: str, aspect: str | None, expected: tuple[int, int]
) -> None:
    async with AimlapiFake() as fake, httpx.AsyncClient(base_url=fake.base_url) as c:
        body: dict[str, Any] = {
            "model": "x-ai/grok-imagine-video",
            "image_url": host.url(path),
            "resolution": "720p",  # ignored for image-to-video, as documented
        }
        if aspect:
            body["aspect_ratio"] = aspect
        resp = await c.post("/v2/video/generations", json=body, headers=auth(fake))
        assert resp.status_code == 200
        (task,) = fake.tasks.values()
    assert task.params["output_size"] == expected
