"""The fake apikley server: body codes, string resultJson, short/full/HMAC callbacks, limits."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.testing.providers import ApikleyFake
from bot.testing.providers.apikley import MODEL
from bot.testing.providers.realism import shape_problems
from bot.testing.providers.receivers import CallbackReceiver, ImageHost
from bot.testing.sample_media import make_sample_photo

CREATE = "/api/v1/jobs/createTask"
RECORD = "/api/v1/jobs/recordInfo"
DATA = Path(__file__).parent / "data" / "apikley"


def assert_like(actual: Any, name: str) -> None:
    example = json.loads((DATA / f"{name}.json").read_text())
    assert shape_problems(actual, example) == [], name


@pytest.fixture
async def host() -> AsyncIterator[ImageHost]:
    async with ImageHost() as server:
        server.add("/media/photo", make_sample_photo(), "image/png")
        yield server


@pytest.fixture
async def fake() -> AsyncIterator[ApikleyFake]:
    async with ApikleyFake(time_scale=0.01) as server:
        yield server


@pytest.fixture
async def client(fake: ApikleyFake) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {fake.api_key}"}
    async with httpx.AsyncClient(base_url=fake.base_url, headers=headers, timeout=5) as c:
        yield c


def task_body(host: ImageHost, callback: str | None = None, **inputs: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL,
        "input": {"image_urls": [host.url("/media/photo")], "prompt": "dance", **inputs},
    }
    if callback:
        body["callBackUrl"] = callback
    return body


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    resp = await client.post(CREATE, json=body)
    assert resp.status_code == 200, resp.text
    assert_like(resp.json(), "create")
    return str(resp.json()["data"]["taskId"])


async def record(client: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
    resp = await client.get(RECORD, params={"taskId": task_id})
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b["input"].pop("prompt"),
        lambda b: b["input"].update(prompt="x" * 5001),
        lambda b: b["input"].update(image_urls=["http://127.0.0.1:1/a", "http://127.0.0.1:1/b"]),
        lambda b: b["input"].update(task_id="task_grok_1"),
        lambda b: b["input"].pop("image_urls"),
        lambda b: b["input"].update(mode="spicy"),
        lambda b: b["input"].update(mode="calm"),
        lambda b: b["input"].update(duration=6),
        lambda b: b["input"].update(aspect_ratio="16:9"),
        lambda b: b.update(model="grok-imagine/text-to-video"),
        lambda b: b.pop("input"),
        lambda b: b.update(callback_url="http://x"),
    ],
)
async def test_validation_is_code_422(
    fake: ApikleyFake, client: httpx.AsyncClient, host: ImageHost, mutate: Any
) -> None:
    body = task_body(host)
    mutate(body)
    resp = await client.post(CREATE, json=body)
    assert resp.status_code == 422
    assert resp.json()["code"] == 422 and isinstance(resp.json()["msg"], str)
    assert_like(resp.json(), "error_422")
    assert fake.tasks == {}


async def test_task_id_input_allows_spicy_without_fetching(
    fake: ApikleyFake, client: httpx.AsyncClient
) -> None:
    body = {"model": MODEL, "input": {"task_id": "task_grok_1", "index": 2, "prompt": "p"}}
    body["input"]["mode"] = "spicy"
    await create(client, body)
    assert fake.image_checks == []


async def test_errors_in_body_answer_http_200(host: ImageHost) -> None:
    async with ApikleyFake(errors_in_body=True) as fake:
        async with httpx.AsyncClient(base_url=fake.base_url) as anon:
            resp = await anon.post(CREATE, json=task_body(host))
        assert resp.status_code == 200
        assert resp.json() == {"code": 401, "msg": "You do not have access permissions"}


async def test_record_lifecycle_and_result_json(
    fake: ApikleyFake, client: httpx.AsyncClient, host: ImageHost
) -> None:
    body = task_body(host, mode="fun")
    task_id = await create(client, body)
    waiting = await record(client, task_id)
    assert_like(waiting, "record_waiting")
    assert waiting["data"]["state"] == "waiting"
    assert json.loads(waiting["data"]["param"]) == body
    fake.advance(task_id)
    assert_like(await record(client, task_id), "record_queuing")
    fake.advance(task_id)
    assert_like(await record(client, task_id), "record_generating")
    fake.advance(task_id)
    done = (await record(client, task_id))["data"]
    assert_like({"code": 200, "message": "success", "data": done}, "record_success_video")
    assert done["state"] == "success" and isinstance(done["resultJson"], str)
    (url,) = json.loads(done["resultJson"])["resultUrls"]
    assert url == fake.result_url(task_id)
    assert done["completeTime"] >= done["createTime"] and done["costTime"] >= 0
    async with httpx.AsyncClient() as cdn:
        assert (await cdn.get(url)).content == fake.tasks[task_id].video


@pytest.mark.parametrize(("mode", "expected"), [("", ""), ("null", None)])
async def test_success_with_empty_result_json(
    fake: ApikleyFake, client: httpx.AsyncClient, host: ImageHost, mode: Any, expected: Any
) -> None:
    fake.success_result_json = mode
    task_id = await create(client, task_body(host))
    fake.succeed(task_id)
    assert (await record(client, task_id))["data"]["resultJson"] == expected


async def test_failed_record(
    fake: ApikleyFake, client: httpx.AsyncClient, host: ImageHost
) -> None:
    task_id = await create(client, task_body(host))
    fake.fail(task_id)
    failed = await record(client, task_id)
    assert_like(failed, "record_fail")
    assert (failed["data"]["failCode"], failed["data"]["failMsg"]) == (
        "500",
        "Internal server error",
    )
    assert failed["data"]["resultJson"] is None


async def test_record_errors(client: httpx.AsyncClient) -> None:
    missing = await client.get(RECORD)
    unknown = await client.get(RECORD, params={"taskId": "nope"})
    assert (missing.status_code, missing.json()["code"]) == (422, 422)
    assert unknown.status_code == 404
    assert_like(unknown.json(), "error_404")


async def test_short_callbacks_are_sent_once(
    fake: ApikleyFake, client: httpx.AsyncClient, host: ImageHost
) -> None:
    async with CallbackReceiver([500]) as receiver:
        ok_id = await create(client, task_body(host, receiver.url("/cb/ok")))
        bad_id = await create(client, task_body(host, receiver.url("/cb/bad")))
        fake.succeed(ok_id)
        fake.fail(bad_id)
        await receiver.wait(2)
        await fake.idle()
        assert len(fake.callback_attempts) == 2  # no retry, even after HTTP 500
        by_path = {r.path: json.loads(r.body) for r in receiver.received}
    assert_like(by_path["/cb/ok"], "callback_success")
    assert_like(by_path["/cb/bad"], "callback_fail")
    assert by_path["/cb/ok"] == {
        "code": 200,
        "msg": "Playground task completed successfully.",
        "data": {"taskId": ok_id},
    }
    assert by_path["/cb/bad"]["code"] == 501


async def test_full_callbacks_with_hmac(host: ImageHost) -> None:
    key = "whsec-test"
    async with (
        ApikleyFake(full_callback=True, hmac_key=key) as fake,
        CallbackReceiver() as receiver,
    ):
        headers = {"Authorization": f"Bearer {fake.api_key}"}
        async with httpx.AsyncClient(base_url=fake.base_url, headers=headers) as c:
            ok_id = await create(c, task_body(host, receiver.url("/ok")))
            bad_id = await create(c, task_body(host, receiver.url("/bad")))
        fake.succeed(ok_id)
        fake.fail(bad_id)
        got = {r.path: r for r in await receiver.wait(2)}
    assert_like(json.loads(got["/ok"].body), "callback_full_kie")
    assert_like(json.loads(got["/bad"].body), "callback_full_kie_fail")
    for path, task_id in (("/ok", ok_id), ("/bad", bad_id)):
        stamp = got[path].headers["x-webhook-timestamp"]
        mac = hmac.new(key.encode(), f"{task_id}.{stamp}".encode(), hashlib.sha256).digest()
        assert got[path].headers["x-webhook-signature"] == base64.b64encode(mac).decode()


async def test_concurrency_and_hourly_limits(host: ImageHost) -> None:
    async with ApikleyFake(max_concurrent=1, max_per_hour=2) as fake:
        headers = {"Authorization": f"Bearer {fake.api_key}"}
        async with httpx.AsyncClient(base_url=fake.base_url, headers=headers) as c:
            first = await create(c, task_body(host))
            busy = await c.post(CREATE, json=task_body(host))
            assert (busy.status_code, busy.json()["code"]) == (429, 429)
            fake.succeed(first)
            await create(c, task_body(host))
            fake.succeed(list(fake.tasks)[-1])
            hourly = await c.post(CREATE, json=task_body(host))
            assert hourly.status_code == 429


async def test_refused_image(
    fake: ApikleyFake, client: httpx.AsyncClient, host: ImageHost
) -> None:
    url = host.add("/media/doc", b"%PDF-1.4", "application/pdf")
    resp = await client.post(CREATE, json=task_body(host, image_urls=[url]))
    assert (resp.status_code, resp.json()["code"]) == (422, 422)
    assert fake.tasks == {} and not fake.image_checks[0].ok
    fake.image_failure = "task"
    task_id = await create(client, task_body(host, image_urls=[url]))
    failed = await fake.wait_status(task_id, "fail")
    assert failed.error_code == "400"
