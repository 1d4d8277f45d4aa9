"""The fake evolink server, driven with plain httpx over 127.0.0.1."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.testing.providers import EvolinkFake
from bot.testing.providers.evolink import GROK, HAPPYHORSE
from bot.testing.providers.realism import shape_problems
from bot.testing.providers.receivers import HANG, CallbackReceiver, ImageHost
from bot.testing.sample_media import make_sample_mp4, make_sample_photo

CREATE = "/v1/videos/generations"


@pytest.fixture
async def fake() -> AsyncIterator[EvolinkFake]:
    async with EvolinkFake(time_scale=0.01, loopback_callbacks=True) as server:
        yield server


@pytest.fixture
async def host() -> AsyncIterator[ImageHost]:
    async with ImageHost() as server:
        server.add("/media/photo", make_sample_photo(), "image/jpeg")
        yield server


@pytest.fixture
async def client(fake: EvolinkFake) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {fake.api_key}"}
    async with httpx.AsyncClient(base_url=fake.base_url, headers=headers, timeout=5) as c:
        yield c


def grok(host: ImageHost, **extra: Any) -> dict[str, Any]:
    return {"model": GROK, "prompt": "dance", "image_urls": [host.url("/media/photo")], **extra}


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    resp = await client.post(CREATE, json=body)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def test_auth_missing_or_wrong_key_gets_401(fake: EvolinkFake, host: ImageHost) -> None:
    async with httpx.AsyncClient(base_url=fake.base_url) as c:
        missing = await c.post(CREATE, json=grok(host))
        wrong = await c.get("/v1/tasks/task-unified-1-x", headers={"Authorization": "Bearer no"})
    for resp in (missing, wrong):
        assert resp.status_code == 401
        assert resp.json() == {
            "error": {"code": 401, "message": "Invalid API key", "type": "authentication_error"}
        }
    assert fake.tasks == {} and fake.image_checks == []


@pytest.mark.parametrize(
    ("change", "param", "status"),
    [
        ({"prompt": None}, "prompt", 400),
        ({"image_urls": []}, "image_urls", 400),
        ({"image_urls": ["http://127.0.0.1:1/a", "http://127.0.0.1:1/b"]}, "image_urls", 400),
        ({"duration": 8}, "duration", 400),
        ({"duration": "6"}, "duration", 400),
        ({"mode": "wild"}, "mode", 400),
        ({"quality": "1080p"}, "quality", 400),
        ({"aspect_ratio": "16:9"}, "aspect_ratio", 400),
        ({"model": "sora"}, "model", 404),
    ],
)
async def test_grok_validation(
    client: httpx.AsyncClient, host: ImageHost, change: dict[str, Any], param: str, status: int
) -> None:
    body = {k: v for k, v in {**grok(host), **change}.items() if v is not None}
    resp = await client.post(CREATE, json=body)
    assert resp.status_code == status
    error = resp.json()["error"]
    assert error["param"] == param and error["code"] == status
    assert error["type"] == ("invalid_request_error" if status == 400 else "not_found_error")


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"duration": 16}, "duration"),
        ({"duration": 2}, "duration"),
        ({"seed": 0}, "seed"),
        ({"seed": 2147483648}, "seed"),
        ({"quality": "480p"}, "quality"),
        ({"mode": "fun"}, "mode"),
    ],
)
async def test_happyhorse_validation(
    client: httpx.AsyncClient, host: ImageHost, change: dict[str, Any], param: str
) -> None:
    body = {"model": HAPPYHORSE, "image_urls": [host.url("/media/photo")], **change}
    resp = await client.post(CREATE, json=body)
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == param


async def test_invalid_json_body(client: httpx.AsyncClient) -> None:
    resp = await client.post(CREATE, content=b"{not json", headers={"Content-Type": "x"})
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"


async def test_create_query_lifecycle_and_download(
    fake: EvolinkFake, client: httpx.AsyncClient, host: ImageHost
) -> None:
    created = await create(client, grok(host, duration=10, quality="720p"))
    task_id = created["id"]
    assert created["status"] == "pending" and created["progress"] == 0
    assert created["usage"]["billing_rule"] == "per_call"
    assert task_id.startswith("task-unified-") and len(task_id.rsplit("-", 1)[1]) == 8
    assert fake.tasks[task_id].body == grok(host, duration=10, quality="720p")

    pending = (await client.get(f"/v1/tasks/{task_id}")).json()
    assert (pending["status"], pending["progress"]) == ("pending", 0)
    assert fake.advance(task_id) == "processing"
    processing = (await client.get(f"/v1/tasks/{task_id}")).json()
    assert (processing["status"], processing["progress"]) == ("processing", 50)
    fake.running_progress = 30
    fake.script(["processing", "processing", "processing"])
    stepped = (await create(client, grok(host)))["id"]
    seen = [(await client.get(f"/v1/tasks/{stepped}")).json()["progress"] for _ in range(4)]
    assert seen == [30, 60, 90, 90]  # each running step reports more; the last state sticks

    video = make_sample_mp4(0.5, with_audio=False)
    fake.succeed(task_id, video)
    done = (await client.get(f"/v1/tasks/{task_id}")).json()
    assert (done["status"], done["progress"], done["task_info"]) == (
        "completed",
        100,
        {"can_cancel": False},
    )
    assert done["results"] == [f"{fake.base_url}/files/{task_id}.mp4"]
    async with httpx.AsyncClient() as plain:  # a CDN URL: no key sent
        got = await plain.get(done["results"][0])
        head = await plain.head(done["results"][0])
    assert head.status_code == 200 and head.headers["content-length"] == str(len(video))
    assert got.status_code == 200 and got.content == video
    assert got.headers["content-type"] == "video/mp4"
    assert got.headers["content-length"] == str(len(video))
    assert "authorization" not in fake.requests_to("download")[0].headers


async def test_happyhorse_create_shape(client: httpx.AsyncClient, host: ImageHost) -> None:
    body = {"model": HAPPYHORSE, "image_urls": [host.url("/media/photo")], "duration": 5}
    created = await create(client, body)
    assert created["task_info"] == {
        "can_cancel": True,
        "estimated_time": 2400,
        "video_duration": 5,
    }
    assert created["usage"] == {
        "billing_rule": "per_second",
        "credits_reserved": 607500,
        "user_group": "default",
    }


async def test_fail_and_cancel(
    fake: EvolinkFake, client: httpx.AsyncClient, host: ImageHost
) -> None:
    first = (await create(client, grok(host)))["id"]
    second = (await create(client, grok(host)))["id"]
    fake.fail(first, "content_policy_violation", "Content policy violation.")
    fake.cancel(second)
    failed = (await client.get(f"/v1/tasks/{first}")).json()
    cancelled = (await client.get(f"/v1/tasks/{second}")).json()
    assert failed["status"] == "failed"
    assert failed["error"] == {
        "code": "content_policy_violation",
        "message": "Content policy violation.",
    }
    assert cancelled["status"] == "cancelled"
    assert cancelled["error"]["code"] == "request_cancelled"
    assert "results" not in failed


async def test_query_errors(fake: EvolinkFake, client: httpx.AsyncClient) -> None:
    bad = await client.get("/v1/tasks/12345")
    assert bad.status_code == 400
    assert bad.json()["error"] == {
        "code": 400,
        "message": "Invalid task ID format, must start with 'task-unified-'",
        "type": "invalid_request_error",
        "param": "task_id",
    }
    unknown = await client.get("/v1/tasks/task-unified-1757169743-zzzzzzzz")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["type"] == "not_found_error"
    fake.error_code_as_string = True
    again = await client.get("/v1/tasks/12345")
    assert again.json()["error"]["code"] == "invalid_task_id"


async def test_callback_retries_until_2xx(
    fake: EvolinkFake, client: httpx.AsyncClient, host: ImageHost
) -> None:
    async with CallbackReceiver([500, 500, 200]) as receiver:
        task_id = (await create(client, grok(host, callback_url=receiver.url("/cb/tok"))))["id"]
        fake.succeed(task_id)
        await fake.wait_callback_attempts(3)
        await fake.idle()
        assert [a.outcome for a in fake.callback_attempts] == [500, 500, 200]
        assert len(receiver.received) == 3
        bodies = {r.body for r in receiver.received}
        assert len(bodies) == 1  # the same query body each time
        sent = json.loads(bodies.pop())
        assert sent["id"] == task_id and sent["status"] == "completed"
        assert sent["results"] == [fake.result_url(task_id)]
        assert receiver.received[0].path == "/cb/tok"


async def test_callback_gives_up_after_four_attempts(
    fake: EvolinkFake, client: httpx.AsyncClient, host: ImageHost
) -> None:
    async with CallbackReceiver([503]) as receiver:
        task_id = (await create(client, grok(host, callback_url=receiver.url("/cb"))))["id"]
        fake.fail(task_id, "generation_timeout", "Generation timed out.")
        await fake.wait_callback_attempts(4)
        await fake.idle()
        assert [a.outcome for a in fake.callback_attempts] == [503] * 4
        assert len(receiver.received) == 4
        assert json.loads(receiver.received[0].body)["error"]["code"] == "generation_timeout"


async def test_callback_timeout_is_retried(host: ImageHost) -> None:
    async with (
        EvolinkFake(time_scale=0.01, callback_timeout=0.5, loopback_callbacks=True) as fake,
        CallbackReceiver([HANG, 200]) as receiver,
    ):
        headers = {"Authorization": f"Bearer {fake.api_key}"}
        async with httpx.AsyncClient(base_url=fake.base_url, headers=headers) as c:
            task_id = (await create(c, grok(host, callback_url=receiver.url("/cb"))))["id"]
        fake.succeed(task_id)
        attempts = await fake.wait_callback_attempts(2)
        assert [a.outcome for a in attempts] == ["ReadTimeout", 200]


async def test_duplicate_callbacks_and_send_now(
    fake: EvolinkFake, client: httpx.AsyncClient, host: ImageHost
) -> None:
    fake.duplicate_callbacks = 2
    async with CallbackReceiver() as receiver:
        task_id = (await create(client, grok(host, callback_url=receiver.url("/cb"))))["id"]
        fake.succeed(task_id)
        await receiver.wait(3)
        await fake.idle()
        fake.duplicate_callbacks = 0
        made = await fake.send_callback(task_id)
        assert [a.outcome for a in made] == [200]
        assert len(receiver.received) == 4


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("http://127.0.0.1:8080/cb", False),
        ("https://127.0.0.1/cb", False),
        ("https://10.1.2.3/cb", False),
        ("https://192.168.0.5/cb", False),
        ("https://bot.example.com/callbacks/evolink/" + "t" * 2048, False),
        ("https://bot.example.com/callbacks/evolink/tok", True),
    ],
)
async def test_strict_callback_rules(host: ImageHost, url: str, accepted: bool) -> None:
    async with EvolinkFake(strict=True, time_scale=0.01) as fake:
        headers = {"Authorization": f"Bearer {fake.api_key}"}
        async with httpx.AsyncClient(base_url=fake.base_url, headers=headers) as c:
            resp = await c.post(CREATE, json=grok(host, callback_url=url))
        if not accepted:
            assert resp.status_code == 400
            assert resp.json()["error"]["param"] == "callback_url"
            assert resp.json()["error"]["type"] == "invalid_request_error"
            return
        assert resp.status_code == 200
        fake.succeed(resp.json()["id"])
        attempts = await fake.wait_callback_attempts(1)
        assert attempts[0].outcome == "not sent: non-loopback"  # never leaves 127.0.0.1


async def test_image_check_accepts_a_served_jpeg(
    fake: EvolinkFake, client: httpx.AsyncClient, host: ImageHost
) -> None:
    await create(client, grok(host))
    (check,) = fake.image_checks
    assert check.ok and check.fetched and not check.token_in_url
    assert (check.status, check.content_type, check.format) == (200, "image/jpeg", "JPEG")
    assert (check.width, check.height, check.size) == (640, 480, len(make_sample_photo()))
    assert host.hits == ["/media/photo"]


@pytest.mark.parametrize(
    ("body", "ctype", "status", "problem"),
    [
        (b"hello", "text/plain", 200, "format"),
        (make_sample_photo(64, 64, "GIF"), "image/gif", 200, "format"),
        (b"gone", "text/plain", 404, "unreachable"),
        (b"\xff\xd8 not really", "image/jpeg", 200, "format"),
    ],
)
async def test_image_check_refuses_bad_images_by_failing_the_task(
    fake: EvolinkFake,
    client: httpx.AsyncClient,
    host: ImageHost,
    body: bytes,
    ctype: str,
    status: int,
    problem: str,
) -> None:
    url = host.add("/media/bad", body, ctype, status)
    task_id = (await create(client, grok(host, image_urls=[url])))["id"]
    await fake.wait_status(task_id, "failed")
    (check,) = fake.image_checks
    assert not check.ok and check.problem == problem
    answer = (await client.get(f"/v1/tasks/{task_id}")).json()
    assert answer["error"]["code"] == "image_processing_error"


@pytest.mark.parametrize("size", [(200, 400), (900, 300), (300, 800)])
async def test_happyhorse_dimension_rules(
    fake: EvolinkFake, client: httpx.AsyncClient, host: ImageHost, size: tuple[int, int]
) -> None:
    url = host.add("/media/odd", make_sample_photo(*size, fmt="PNG"), "image/png")
    created = await create(client, {"model": HAPPYHORSE, "image_urls": [url]})
    task = await fake.wait_status(created["id"], "failed")
    assert task.error_code == "image_dimension_mismatch"


async def test_happyhorse_accepts_edge_sizes(
    fake: EvolinkFake, client: httpx.AsyncClient, host: ImageHost
) -> None:
    url = host.add("/media/wide", make_sample_photo(750, 300, "WEBP"), "image/webp")
    await create(client, {"model": HAPPYHORSE, "image_urls": [url], "prompt": "run"})
    assert [c.ok for c in fake.image_checks] == [True]


async def test_image_refused_at_create_when_asked(host: ImageHost) -> None:
    async with EvolinkFake(image_failure="create") as fake:
        url = host.add("/media/txt", b"hello", "text/plain")
        headers = {"Authorization": f"Bearer {fake.api_key}"}
        async with httpx.AsyncClient(base_url=fake.base_url, headers=headers) as c:
            resp = await c.post(CREATE, json=grok(host, image_urls=[url]))
        assert resp.status_code == 400
        assert resp.json()["error"]["param"] == "image_urls"
        assert fake.tasks == {}


async def test_bot_token_in_image_url_is_flagged(
    fake: EvolinkFake, client: httpx.AsyncClient, host: ImageHost
) -> None:
    url = host.add("/file/bot123456:ABC/photos/file_1.jpg", make_sample_photo(), "image/jpeg")
    await create(client, grok(host, image_urls=[url]))
    assert fake.image_checks[0].token_in_url
    assert fake.bot_token_leaks()


# -- realism guard: every body the fake produces against tests/data/evolink/ -------------------
DATA = Path(__file__).parent / "data" / "evolink"
# D1 documents these query fields; the T1/D2 examples show only some of them.
QUERY_FIELDS = {"created", "id", "model", "object", "progress", "results", "status", "error"}
DOCUMENTED = {
    "$": QUERY_FIELDS | {"task_info", "type"},
    "$.task_info": {"can_cancel", "estimated_time", "video_duration"},
}


def assert_like(actual: Any, name: str) -> None:
    example = json.loads((DATA / f"{name}.json").read_text())
    assert shape_problems(actual, example, DOCUMENTED) == [], name


async def test_realism_of_every_evolink_body(
    fake: EvolinkFake, client: httpx.AsyncClient, host: ImageHost
) -> None:
    photo = host.url("/media/photo")
    async with CallbackReceiver() as receiver:
        assert_like(await create(client, grok(host)), "create_grok")
        hh = await create(
            client,
            {"model": HAPPYHORSE, "image_urls": [photo], "callback_url": receiver.url("/c")},
        )
        assert_like(hh, "create_happyhorse")
        query = f"/v1/tasks/{hh['id']}"
        assert_like((await client.get(query)).json(), "task_pending")
        fake.advance(hh["id"])
        assert_like((await client.get(query)).json(), "task_processing")
        fake.succeed(hh["id"])
        assert_like((await client.get(query)).json(), "task_completed")
        (callback,) = await receiver.wait(1)
        assert_like(json.loads(callback.body), "task_completed")
    for fail, name in [
        (("content_policy_violation", "Content policy violation."), "task_failed_content_policy"),
        (("generation_timeout", "Timed out."), "task_failed_generation_timeout"),
    ]:
        task_id = (await create(client, grok(host)))["id"]
        fake.fail(task_id, *fail)
        assert_like((await client.get(f"/v1/tasks/{task_id}")).json(), name)
    task_id = (await create(client, grok(host)))["id"]
    fake.cancel(task_id)
    assert_like((await client.get(f"/v1/tasks/{task_id}")).json(), "task_cancelled")
    for status in (402, 403, 413, 429, 500, 502, 503):
        fake.inject(str(status), "create")
        resp = await client.post(CREATE, json=grok(host))
        assert resp.status_code == status
        assert_like(resp.json(), f"error_{status}")
    assert_like((await client.get("/v1/tasks/task-unified-1-nothere")).json(), "error_404")
    async with httpx.AsyncClient(base_url=fake.base_url) as anon:
        assert_like((await anon.get(query)).json(), "error_401")
    fake.error_code_as_string = True
    assert_like((await client.get("/v1/tasks/42")).json(), "error_invalid_task_id")


def test_shape_problems_catches_drift() -> None:
    example = {"id": "x", "progress": 0, "task_info": {"can_cancel": True}, "results": ["u"]}
    assert shape_problems(example, example) == []
    assert shape_problems({**example, "progress": "0"}, example) == [
        "$.progress: string where the example has integer"
    ]
    assert shape_problems({**example, "results": [{"url": "u"}]}, example) == [
        "$.results[0]: object where the example has string"
    ]
    assert shape_problems({"id": "x"}, {"id": "x", "n": None}) == ["$.n: missing"]
    assert shape_problems({"id": "x", "extra": 1}, {"id": "x"}) == [
        "$.extra: not in the example nor documented"
    ]
    assert shape_problems({"id": "x", "extra": 1}, {"id": "x"}, {"$": {"extra"}}) == []


async def test_callback_schedule_scaled_and_at_full_speed(host: ImageHost) -> None:
    """Retry gaps are at least the documented 1 s / 2 s / 4 s times `time_scale`."""
    for scale, statuses in ((0.01, [500, 500, 500, 200]), (1.0, [502, 200])):
        async with (
            EvolinkFake(time_scale=scale, loopback_callbacks=True) as fake,
            CallbackReceiver(statuses) as receiver,
        ):
            headers = {"Authorization": f"Bearer {fake.api_key}"}
            async with httpx.AsyncClient(base_url=fake.base_url, headers=headers) as c:
                task_id = (await create(c, grok(host, callback_url=receiver.url("/cb"))))["id"]
            fake.succeed(task_id)
            attempts = await fake.wait_callback_attempts(len(statuses))
            assert [a.outcome for a in attempts] == statuses
            gaps = [b.time - a.time for a, b in itertools.pairwise(attempts)]
            # Lower bounds only: asyncio.sleep never returns early, so these cannot flake.
            assert all(g >= d * scale for g, d in zip(gaps, (1.0, 2.0, 4.0), strict=False))
