"""The fake aimlapi server: image_url xor reference_images, 200 + status error, 403 credits."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.testing.providers import AimlapiFake
from bot.testing.providers.aimlapi import MODEL
from bot.testing.providers.realism import shape_problems
from bot.testing.providers.receivers import ImageHost
from bot.testing.sample_media import make_sample_photo

PATH = "/v2/video/generations"
DATA = Path(__file__).parent / "data" / "aimlapi"


def assert_like(actual: Any, name: str) -> None:
    example = json.loads((DATA / f"{name}.json").read_text())
    assert shape_problems(actual, example) == [], name


@pytest.fixture
async def host() -> AsyncIterator[ImageHost]:
    async with ImageHost() as server:
        server.add("/media/photo", make_sample_photo(fmt="WEBP"), "image/webp")
        server.add("/media/photo.png", make_sample_photo(fmt="PNG"), "image/png")
        yield server


@pytest.fixture
async def fake() -> AsyncIterator[AimlapiFake]:
    async with AimlapiFake() as server:
        yield server


@pytest.fixture
async def client(fake: AimlapiFake) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {fake.api_key}"}
    async with httpx.AsyncClient(base_url=fake.base_url, headers=headers, timeout=5) as c:
        yield c


def body(host: ImageHost, **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "prompt": "waves", "image_url": host.url("/media/photo"), **extra}


async def create(client: httpx.AsyncClient, payload: dict[str, Any]) -> str:
    resp = await client.post(PATH, json=payload)
    assert resp.status_code == 200, resp.text
    assert_like(resp.json(), "create")
    uuid.UUID(resp.json()["id"])
    return str(resp.json()["id"])


async def poll(client: httpx.AsyncClient, generation_id: str) -> dict[str, Any]:
    resp = await client.get(PATH, params={"generation_id": generation_id})
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


@pytest.mark.parametrize(
    "change",
    [
        {"reference_images": ["http://127.0.0.1:1/a"]},
        {"image_url": None, "reference_images": ["http://127.0.0.1:1/a"] * 8},
        {"duration": 0},
        {"duration": 16},
        {"aspect_ratio": "21:9"},
        {"resolution": "4k"},
        {"seed": 3},
    ],
)
async def test_validation_is_400(
    fake: AimlapiFake, client: httpx.AsyncClient, host: ImageHost, change: dict[str, Any]
) -> None:
    payload = {k: v for k, v in {**body(host), **change}.items() if v is not None}
    resp = await client.post(PATH, json=payload)
    assert resp.status_code == 400
    error = resp.json()
    assert_like(error, "error_400")
    assert (error["statusCode"], error["path"]) == ("400", PATH)
    assert fake.tasks == {}


async def test_unknown_model_is_404(client: httpx.AsyncClient, host: ImageHost) -> None:
    resp = await client.post(PATH, json=body(host, model="x-ai/grok-2"))
    assert resp.status_code == 404
    assert_like(resp.json(), "error_404")


async def test_duration_string_from_the_docs_sample_is_accepted(
    fake: AimlapiFake, client: httpx.AsyncClient, host: ImageHost
) -> None:
    task_id = await create(client, body(host, duration="8"))
    assert fake.tasks[task_id].params["duration"] == 8


async def test_credits_exhausted_is_403(host: ImageHost) -> None:
    async with AimlapiFake(credits_exhausted=True) as fake:
        headers = {"Authorization": f"Bearer {fake.api_key}"}
        async with httpx.AsyncClient(base_url=fake.base_url, headers=headers) as c:
            resp = await c.post(PATH, json=body(host))
    assert resp.status_code == 403
    assert_like(resp.json(), "error_403_credits")
    assert "exhausted" in resp.json()["message"]


async def test_lifecycle_to_completed(
    fake: AimlapiFake, client: httpx.AsyncClient, host: ImageHost
) -> None:
    task_id = await create(client, body(host, duration=10))
    assert_like(await poll(client, task_id), "generation_queued")
    fake.advance(task_id)
    assert_like(await poll(client, task_id), "generation_generating")
    fake.succeed(task_id)
    done = await poll(client, task_id)
    assert_like(done, "generation_completed_meta")
    assert done["video"] == {"url": fake.result_url(task_id)}
    assert done["meta"] == {"usage": {"credits_used": 120000}}


async def test_failure_is_http_200_with_status_error(
    fake: AimlapiFake, client: httpx.AsyncClient, host: ImageHost
) -> None:
    task_id = await create(client, body(host))
    fake.fail(task_id, "ModerationError", "Rejected by moderation")
    failed = await poll(client, task_id)
    assert_like(failed, "generation_error_moderation")
    assert failed["status"] == "error"
    assert failed["error"] == {"name": "ModerationError", "message": "Rejected by moderation"}


async def test_reference_images_are_each_checked(
    fake: AimlapiFake, client: httpx.AsyncClient, host: ImageHost
) -> None:
    refs = [host.url("/media/photo"), host.url("/media/photo.png")]
    await create(client, {"model": MODEL, "reference_images": refs})
    assert [(c.format, c.ok) for c in fake.image_checks] == [("WEBP", True), ("PNG", True)]


async def test_refused_image_fails_the_generation(
    fake: AimlapiFake, client: httpx.AsyncClient, host: ImageHost
) -> None:
    url = host.add("/media/page", b"<html></html>", "text/html")
    task_id = await create(client, body(host, image_url=url))
    await fake.wait_status(task_id, "error")
    assert (await poll(client, task_id))["error"]["name"] == "InvalidImageError"


async def test_poll_errors(client: httpx.AsyncClient) -> None:
    missing = await client.get(PATH)
    unknown = await client.get(PATH, params={"generation_id": str(uuid.uuid4())})
    assert missing.status_code == 400
    assert unknown.status_code == 404
    assert_like(unknown.json(), "error_404")
    async with httpx.AsyncClient(base_url=str(client.base_url)) as anon:
        unauthorised = await anon.get(PATH, params={"generation_id": "x"})
    assert unauthorised.status_code == 401
    assert_like(unauthorised.json(), "error_401")
