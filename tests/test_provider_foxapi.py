"""foxapi adapter replayed against the documented examples in tests/data/foxapi."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import catalog
from bot.models import ErrorKind, TaskState, VideoOptions
from bot.providers.base import InvalidCallback, VideoProvider, VideoRequest
from bot.providers.errors import (
    InsufficientCredits,
    ProviderAuthError,
    ProviderConfigError,
    ProviderError,
    ProviderTimeout,
    ProviderValidationError,
    RateLimited,
    UpstreamError,
)
from bot.providers.foxapi import FoxapiProvider
from tests.replay import DATA as FIXTURES
from tests.replay import Replay, loader, record_sleeps

KEY = "fox-key-SECRET"
BASE = "https://foxapi.test"
IMAGE = "https://bot.example/media/abc123"
TASK = "task-unified-1757165031-uyujaw3d"
VIDEO = "https://files.foxapi.cc/videos/task-unified-1757165031-uyujaw3d.mp4"


DATA = FIXTURES / "foxapi"
data = loader("foxapi")


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    return record_sleeps(monkeypatch)


def provider(replay: Replay) -> FoxapiProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(replay))
    return FoxapiProvider(client, api_key=KEY, base_url=BASE)


def request(prompt: str = "The camera pushes in", **values: str) -> VideoRequest:
    options = VideoOptions(model="grok", values=values)
    return VideoRequest(prompt, options, Path("/x.jpg"), IMAGE, "https://bot.example/cb/t")


def test_is_a_poll_only_video_provider() -> None:
    p = provider(Replay())
    assert isinstance(p, VideoProvider)
    assert p.name == "foxapi" and not p.uses_callbacks and p.needs_public_image
    grok = p.models["grok"]
    assert grok.defaults() == {"duration": "6", "aspect_ratio": "auto", "quality": "480p"}
    assert grok.option("duration").values == ("6", "10", "15")  # type: ignore[union-attr]
    assert grok.option("aspect_ratio").values == catalog.ASPECT_RATIOS  # type: ignore[union-attr]


async def test_submit_sends_the_documented_body_without_callback() -> None:
    replay = Replay(httpx.Response(200, json=data("create")))
    submitted = await provider(replay).submit(request(duration="15", aspect_ratio="9:16"))
    assert submitted.task_id == TASK and submitted.eta_s == 45
    req = replay.requests[0]
    assert req.method == "POST" and str(req.url) == BASE + "/v1/videos/generations"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert json.loads(req.content) == {
        "model": "grok-imagine-image-to-video",
        "prompt": "The camera pushes in",
        "image_url": IMAGE,
        "duration": 15,
        "aspect_ratio": "9:16",
        "resolution": "480p",
    }


async def test_submit_defaults_and_quality_as_resolution() -> None:
    replay = Replay(httpx.Response(200, json=data("create")))
    await provider(replay).submit(request(quality="720p"))
    body = json.loads(replay.requests[0].content)
    assert (body["duration"], body["aspect_ratio"], body["resolution"]) == (6, "auto", "720p")


async def test_submit_requires_prompt_and_id() -> None:
    with pytest.raises(ProviderValidationError):
        await provider(Replay()).submit(request(prompt=""))
    with pytest.raises(ProviderTimeout) as info:
        await provider(Replay(httpx.Response(200, json={"status": "pending"}))).submit(request())
    assert info.value.outcome_unknown


async def test_submit_timeout_after_send_is_outcome_unknown() -> None:
    replay = Replay(httpx.WriteTimeout("slow"), httpx.Response(200, json=data("create")))
    with pytest.raises(ProviderTimeout) as info:
        await provider(replay).submit(request())
    assert info.value.outcome_unknown and len(replay.requests) == 1


@pytest.mark.parametrize(
    ("name", "state", "progress"),
    [
        ("task_pending", TaskState.QUEUED, 0),
        ("task_processing", TaskState.RUNNING, 40),
        ("task_completed", TaskState.SUCCEEDED, 100),
        ("task_completed_legacy_output", TaskState.SUCCEEDED, 100),
        ("task_failed", TaskState.FAILED, 0),
        ("task_cancelled_legacy", TaskState.FAILED, 0),
    ],
)
async def test_query_state_mapping(name: str, state: TaskState, progress: int) -> None:
    replay = Replay(httpx.Response(200, json=data(name)))
    event = await provider(replay).query(TASK)
    assert replay.requests[0].method == "GET"
    assert str(replay.requests[0].url) == f"{BASE}/v1/tasks/{TASK}"
    assert event.state is state and event.progress == progress and event.task_id == TASK


@pytest.mark.parametrize("name", ["task_completed", "task_completed_legacy_output"])
async def test_query_url_from_results_objects_or_legacy_output(name: str) -> None:
    event = await provider(Replay(httpx.Response(200, json=data(name)))).query(TASK)
    assert event.video_url == VIDEO


@pytest.mark.parametrize(
    ("shape", "url"),
    [
        ({"results": ["https://a.test/s.mp4"]}, "https://a.test/s.mp4"),
        ({"results": [{"url": "https://a.test/r?id=1"}]}, "https://a.test/r?id=1"),
        (
            {"results": [{"w": 1}], "output": {"url": "https://a.test/o?id=2"}},
            "https://a.test/o?id=2",
        ),
        (
            {"results": None, "output": {"urls": ["https://a.test/u?id=3"]}},
            "https://a.test/u?id=3",
        ),
        (
            {"results": None, "meta": {"deep": ["https://a.test/deep.mp4"]}},
            "https://a.test/deep.mp4",
        ),
    ],
)
async def test_query_url_variants(shape: dict[str, Any], url: str) -> None:
    body = {"id": TASK, "status": "COMPLETED", **shape}
    event = await provider(Replay(httpx.Response(200, json=body))).query(TASK)
    assert event.state is TaskState.SUCCEEDED and event.video_url == url


async def test_query_completed_without_url_is_an_upstream_failure() -> None:
    body = {"id": TASK, "status": "completed", "results": [{"url": None}], "output": None}
    event = await provider(Replay(httpx.Response(200, json=body))).query(TASK)
    assert event.state is TaskState.FAILED and event.error_code == "no_video_url"


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [
        ("specific_error_code", "Task failed upstream", ErrorKind.UPSTREAM),
        ("content_policy_violation", "blocked", ErrorKind.CONTENT_POLICY),
        ("invalid_parameters", "bad", ErrorKind.VALIDATION),
        ("generation_timeout", "slow", ErrorKind.TIMEOUT),
        ("upstream_failed", "Image rejected by NSFW filter", ErrorKind.CONTENT_POLICY),
        (None, None, ErrorKind.UPSTREAM),
    ],
)
async def test_query_failed_task_errors(
    code: str | None, message: str | None, kind: ErrorKind
) -> None:
    body = data("task_failed")
    body["error"] = {"code": code, "message": message, "type": "task_error"}
    event = await provider(Replay(httpx.Response(200, json=body))).query(TASK)
    assert event.state is TaskState.FAILED and event.error_kind is kind
    assert event.error_code == code and event.error_message == message


async def test_query_cancelled_and_unknown_status() -> None:
    replay = Replay(
        httpx.Response(200, json=data("task_cancelled_legacy")),
        httpx.Response(200, json={"id": TASK, "status": "syncing"}),
    )
    p = provider(replay)
    assert (await p.query(TASK)).error_kind is ErrorKind.CANCELLED
    assert (await p.query(TASK)).state is TaskState.UNKNOWN


ERRORS = [
    # On create a 400/404/422 that names neither the photo nor the prompt is the operator's
    # configuration (issue 11): alert and fail over, never blamed on the user.
    ("error_400", 400, ProviderConfigError),
    ("error_401", 401, ProviderAuthError),
    ("error_402", 402, InsufficientCredits),
    ("error_404", 404, ProviderConfigError),
    ("error_422", 422, ProviderConfigError),
    ("error_422_no_channel", 422, UpstreamError),
    ("error_500", 500, UpstreamError),
    ("error_503", 503, UpstreamError),
]


@pytest.mark.parametrize(("name", "status", "cls"), ERRORS)
async def test_http_error_mapping(name: str, status: int, cls: type[ProviderError]) -> None:
    replay = Replay(*(httpx.Response(status, json=data(name)) for _ in range(3)))
    with pytest.raises(cls) as info:
        await provider(replay).submit(request())
    err = info.value
    assert type(err) is cls and err.status == status and err.provider == "foxapi"
    assert err.message == data(name)["error"]["message"]


async def test_422_keeps_the_business_code() -> None:
    with pytest.raises(ProviderConfigError) as info:
        await provider(Replay(httpx.Response(422, json=data("error_422")))).submit(request())
    assert info.value.code == "unsupported_advanced_options"


async def test_429_retry_after_then_success(no_sleep: list[float]) -> None:
    replay = Replay(
        httpx.Response(429, headers={"Retry-After": "5"}, json=data("error_429")),
        httpx.Response(200, json=data("create")),
    )
    assert (await provider(replay).submit(request())).task_id == TASK
    assert no_sleep == [5.0]
    replay = Replay(httpx.Response(429, headers={"Retry-After": "90"}, json=data("error_429")))
    with pytest.raises(RateLimited) as info:
        await provider(replay).submit(request())
    assert info.value.retry_after == 90


async def test_html_502_and_empty_body_are_upstream() -> None:
    html = httpx.Response(502, text="<html><body>502 Bad Gateway</body></html>")
    with pytest.raises(UpstreamError, match="Bad Gateway"):
        await provider(Replay(html, html)).submit(request())
    empty = httpx.Response(200, content=b"")
    with pytest.raises(UpstreamError):
        await provider(Replay(empty, empty, empty)).query(TASK)


def test_callbacks_are_refused() -> None:
    body = (DATA / "task_completed.json").read_bytes()
    with pytest.raises(InvalidCallback):
        provider(Replay()).callback_task_id({}, body)
