"""The fake foxapi server: single `image_url`, results objects, the legacy `output` shape."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.testing.providers import FoxapiFake
from bot.testing.providers.foxapi import MODEL, output_size
from bot.testing.providers.realism import shape_problems
from bot.testing.providers.receivers import ImageHost
from bot.testing.sample_media import make_sample_photo

CREATE = "/v1/videos/generations"
DATA = Path(__file__).parent / "data" / "foxapi"
# D11's query fields; the failed example (D12 error in the D11 shape) leaves some of them out.
DOCUMENTED = {"$": {"model", "usage", "results", "error"}}


def assert_like(actual: Any, name: str) -> None:
    example = json.loads((DATA / f"{name}.json").read_text())
    assert shape_problems(actual, example, DOCUMENTED) == [], name


@pytest.fixture
async def host() -> AsyncIterator[ImageHost]:
    async with ImageHost() as server:
        server.add("/media/photo", make_sample_photo(), "image/jpeg")
        yield server


@pytest.fixture
async def fake() -> AsyncIterator[FoxapiFake]:
    async with FoxapiFake() as server:
        yield server


@pytest.fixture
async def client(fake: FoxapiFake) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {fake.api_key}"}
    async with httpx.AsyncClient(base_url=fake.base_url, headers=headers, timeout=5) as c:
        yield c


def body(host: ImageHost, **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "prompt": "wind", "image_url": host.url("/media/photo"), **extra}


async def create(client: httpx.AsyncClient, payload: dict[str, Any]) -> str:
    resp = await client.post(CREATE, json=payload)
    assert resp.status_code == 200, resp.text
    assert_like(resp.json(), "create")
    assert "usage" not in resp.json()
    return str(resp.json()["id"])


async def query(client: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
    resp = await client.get(f"/v1/tasks/{task_id}", params={"sync_upstream": "true"})
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"image_urls": ["http://127.0.0.1:1/a"]}, "unsupported_advanced_options"),
        ({"callback_url": "http://127.0.0.1:1/cb"}, "unsupported_advanced_options"),
        ({"mode": "fun"}, "unsupported_advanced_options"),
        ({"image_url": None}, "invalid_parameter"),
        ({"prompt": None}, "invalid_parameter"),
        ({"duration": 0}, "invalid_parameter"),
        ({"duration": 16}, "invalid_parameter"),
        ({"aspect_ratio": "21:9"}, "invalid_parameter"),
        ({"resolution": "1080p"}, "invalid_parameter"),
        ({"model": "grok-imagine-video"}, "model_not_found"),
    ],
)
async def test_validation_is_422(
    client: httpx.AsyncClient, host: ImageHost, change: dict[str, Any], code: str
) -> None:
    payload = {k: v for k, v in {**body(host), **change}.items() if v is not None}
    resp = await client.post(CREATE, json=payload)
    assert resp.status_code == 422
    assert resp.json()["error"]["type"] == "invalid_request_error"
    assert resp.json()["error"]["code"] == code
    assert_like(resp.json(), "error_422")


async def test_invalid_json_is_400(client: httpx.AsyncClient) -> None:
    resp = await client.post(CREATE, content=b"[1,", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert_like(resp.json(), "error_400")


async def test_nulls_take_defaults(
    fake: FoxapiFake, client: httpx.AsyncClient, host: ImageHost
) -> None:
    task_id = await create(client, body(host, duration=None, aspect_ratio=None, resolution=None))
    assert fake.tasks[task_id].params == {
        "image_url": host.url("/media/photo"),
        "duration": 6,
        "aspect_ratio": "auto",
        "resolution": "720p",
    }


async def test_lifecycle_with_results_objects(
    fake: FoxapiFake, client: httpx.AsyncClient, host: ImageHost
) -> None:
    task_id = await create(client, body(host, duration=10, aspect_ratio="9:16"))
    assert_like(await query(client, task_id), "task_pending")
    fake.advance(task_id)
    assert_like(await query(client, task_id), "task_processing")
    fake.succeed(task_id)
    done = await query(client, task_id)
    assert_like(done, "task_completed")
    assert done["results"] == [
        {"url": fake.result_url(task_id), "width": 720, "height": 1280, "duration": 10}
    ]
    assert fake.requests_to("query")[-1].query == {"sync_upstream": "true"}


async def test_failed_task(fake: FoxapiFake, client: httpx.AsyncClient, host: ImageHost) -> None:
    task_id = await create(client, body(host))
    fake.fail(task_id, "content_moderation", "Rejected by moderation")
    failed = await query(client, task_id)
    assert_like(failed, "task_failed")
    assert failed["error"] == {
        "code": "content_moderation",
        "message": "Rejected by moderation",
        "type": "task_error",
    }


async def test_legacy_output_shape(host: ImageHost) -> None:
    async with FoxapiFake(legacy_output=True) as fake:
        headers = {"Authorization": f"Bearer {fake.api_key}"}
        async with httpx.AsyncClient(base_url=fake.base_url, headers=headers) as c:
            done_id = await create(c, body(host, resolution="480p"))
            gone_id = await create(c, body(host))
            fake.succeed(done_id)
            fake.cancel(gone_id)
            done, gone = await query(c, done_id), await query(c, gone_id)
    assert_like(done, "task_completed_legacy_output")
    assert_like(gone, "task_cancelled_legacy")
    assert done["output"]["urls"] == [done["output"]["url"]]
    assert (done["output"]["width"], done["output"]["height"]) == (640, 480)  # auto: photo 4:3


async def test_query_errors(client: httpx.AsyncClient) -> None:
    resp = await client.get("/v1/tasks/task-unified-1-unknown")
    assert resp.status_code == 404
    assert_like(resp.json(), "error_404")
    async with httpx.AsyncClient(base_url=str(client.base_url)) as anon:
        assert_like((await anon.get("/v1/tasks/x")).json(), "error_401")


@pytest.mark.parametrize(
    ("resolution", "aspect", "source", "size"),
    [
        ("720p", "16:9", None, (1280, 720)),
        ("480p", "1:1", None, (480, 480)),
        ("720p", "3:4", None, (720, 960)),
        ("720p", "auto", (480, 640), (720, 960)),
        ("480p", "auto", None, (854, 480)),
    ],
)
def test_output_size(
    resolution: str, aspect: str, source: tuple[int, int] | None, size: tuple[int, int]
) -> None:
    assert output_size(resolution, aspect, source) == size
