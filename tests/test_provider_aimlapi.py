"""aimlapi adapter replayed against the documented examples in tests/data/aimlapi."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from bot.models import ErrorKind, TaskState, VideoOptions
from bot.providers import _http
from bot.providers.aimlapi import AimlapiProvider
from bot.providers.base import InvalidCallback, VideoProvider, VideoRequest
from bot.providers.errors import (
    ContentPolicyError,
    InsufficientCredits,
    ProviderAuthError,
    ProviderConfigError,
    ProviderError,
    ProviderTimeout,
    ProviderValidationError,
    RateLimited,
    TaskNotFound,
    UpstreamError,
)
from tests.replay import Replay, loader, record_sleeps

KEY = "aiml-key-SECRET"
BASE = "https://aimlapi.test"
IMAGE = "https://bot.example/media/abc123"
GEN = "60ac7c34-3224-4b14-8e7d-0aa0db708325"


data = loader("aimlapi")


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    return record_sleeps(monkeypatch)


def provider(replay: Replay) -> AimlapiProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(replay))
    return AimlapiProvider(client, api_key=KEY, base_url=BASE)


def request(prompt: str = "She smiles", **values: str) -> VideoRequest:
    options = VideoOptions(model="grok", values=values)
    return VideoRequest(prompt, options, Path("/x.jpg"), IMAGE, "https://bot.example/cb/t")


def test_is_a_poll_only_video_provider_offering_only_what_it_honours() -> None:
    p = provider(Replay())
    assert isinstance(p, VideoProvider)
    assert p.name == "aimlapi" and not p.uses_callbacks and p.needs_public_image
    grok = p.models["grok"]
    # No quality: for image-to-video aimlapi picks the resolution from the photo (issue 11, 1).
    assert grok.defaults() == {"duration": "6", "aspect_ratio": "auto"}
    aspects = grok.option("aspect_ratio").values  # type: ignore[union-attr]
    assert set(aspects) - {"auto"} <= {"1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3"}


async def test_submit_sends_the_documented_body() -> None:
    replay = Replay(httpx.Response(200, json=data("create")))
    submitted = await provider(replay).submit(request(duration="10", aspect_ratio="9:16"))
    assert submitted.task_id == GEN and submitted.eta_s is None
    req = replay.requests[0]
    assert req.method == "POST" and str(req.url) == BASE + "/v2/video/generations"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert json.loads(req.content) == {
        "model": "x-ai/grok-imagine-video",
        "prompt": "She smiles",
        "image_url": IMAGE,
        "duration": 10,
        "aspect_ratio": "9:16",
    }


@pytest.mark.parametrize(
    ("size", "sent"),
    [((1080, 1920), "9:16"), ((1920, 1080), "16:9"), ((1000, 1000), "1:1"), ((3000, 4000), "3:4"),
     ((4000, 2700), "3:2"), (None, None)],
)  # fmt: skip
async def test_auto_aspect_sends_the_documented_ratio_nearest_to_the_photo(
    size: tuple[int, int] | None, sent: str | None
) -> None:
    """Issue 11, finding 2: a portrait photo is never forced into the 16:9 default."""
    replay = Replay(httpx.Response(200, json=data("create")))
    req = replace(request(aspect_ratio="auto"), image_size=size)
    await provider(replay).submit(req)
    body = json.loads(replay.requests[0].content)
    assert body.get("aspect_ratio") == sent and "resolution" not in body
    assert body["duration"] == 6


async def test_submit_status_error_in_a_200_is_refused() -> None:
    body = {"id": GEN, "status": "error", "error": {"name": "Moderation", "message": "unsafe"}}
    with pytest.raises(ContentPolicyError):
        await provider(Replay(httpx.Response(200, json=body))).submit(request())
    body = {"id": GEN, "status": "error", "error": {"name": "X", "message": "boom"}}
    with pytest.raises(UpstreamError, match="boom"):
        await provider(Replay(httpx.Response(200, json=body))).submit(request())


async def test_submit_without_id_is_outcome_unknown() -> None:
    with pytest.raises(ProviderTimeout) as info:
        await provider(Replay(httpx.Response(200, json={"status": "queued"}))).submit(request())
    assert info.value.outcome_unknown


async def test_submit_connection_drop_after_send_is_outcome_unknown() -> None:
    replay = Replay(httpx.RemoteProtocolError("closed"), httpx.Response(200, json=data("create")))
    with pytest.raises(ProviderTimeout) as info:
        await provider(replay).submit(request())
    assert info.value.outcome_unknown and len(replay.requests) == 1


@pytest.mark.parametrize(
    ("name", "state"),
    [
        ("generation_queued", TaskState.QUEUED),
        ("generation_generating", TaskState.RUNNING),
        ("generation_completed", TaskState.SUCCEEDED),
        ("generation_completed_meta", TaskState.SUCCEEDED),
        ("generation_error", TaskState.FAILED),
    ],
)
async def test_query_state_mapping(name: str, state: TaskState) -> None:
    replay = Replay(httpx.Response(200, json=data(name)))
    event = await provider(replay).query(GEN)
    req = replay.requests[0]
    assert req.method == "GET" and req.url.path == "/v2/video/generations"
    assert req.url.params["generation_id"] == GEN
    assert event.state is state
    assert event.task_id == data(name)["id"]


async def test_query_completed_gives_video_url() -> None:
    event = await provider(Replay(httpx.Response(200, json=data("generation_completed")))).query(
        GEN
    )
    assert event.video_url == data("generation_completed")["video"]["url"]


async def test_query_completed_url_last_resort_and_missing() -> None:
    nested = {"status": "completed", "video": None, "result": {"u": "https://cdn.test/v.mp4"}}
    missing = {"status": "completed", "video": {"url": ""}}
    p = provider(Replay(httpx.Response(200, json=nested), httpx.Response(200, json=missing)))
    found = await p.query(GEN)
    assert found.video_url == "https://cdn.test/v.mp4" and found.task_id == GEN
    none = await p.query(GEN)
    assert none.state is TaskState.FAILED and none.error_kind is ErrorKind.UPSTREAM


@pytest.mark.parametrize(
    ("name", "kind", "code"),
    [
        ("generation_error", ErrorKind.UPSTREAM, "GenerationError"),
        ("generation_error_moderation", ErrorKind.CONTENT_POLICY, "ModerationError"),
    ],
)
async def test_query_error_status_in_a_200(name: str, kind: ErrorKind, code: str) -> None:
    event = await provider(Replay(httpx.Response(200, json=data(name)))).query(GEN)
    assert event.state is TaskState.FAILED and event.error_kind is kind
    assert event.error_code == code and event.error_message == data(name)["error"]["message"]


async def test_query_timeout_failure_and_unknown_status() -> None:
    failed = {"status": "ERROR", "error": {"name": "Error", "message": "Generation timed out"}}
    odd = {"status": "uploading"}
    p = provider(Replay(httpx.Response(200, json=failed), httpx.Response(200, json=odd)))
    assert (await p.query(GEN)).error_kind is ErrorKind.TIMEOUT
    assert (await p.query(GEN)).state is TaskState.UNKNOWN


ERRORS = [
    ("error_400", 400, ProviderValidationError),
    ("error_401", 401, ProviderAuthError),
    ("error_403_credits", 403, InsufficientCredits),
    ("error_404", 404, TaskNotFound),
    ("error_500", 500, UpstreamError),
    ("error_503", 503, UpstreamError),
]


@pytest.mark.parametrize(("name", "status", "cls"), ERRORS)
async def test_http_error_mapping(name: str, status: int, cls: type[ProviderError]) -> None:
    replay = Replay(*(httpx.Response(status, json=data(name)) for _ in range(3)))
    with pytest.raises(cls) as info:
        await provider(replay).query(GEN)
    err = info.value
    assert type(err) is cls and err.status == status and err.code == str(status)
    assert err.message == data(name)["message"] and err.request_id == data(name)["requestId"]


async def test_403_without_credit_words_is_auth_and_list_messages_join() -> None:
    body = {"message": "Forbidden", "statusCode": "403"}
    with pytest.raises(ProviderAuthError):
        await provider(Replay(httpx.Response(403, json=body))).submit(request())
    listed = {"message": ["duration must be <= 15", "image_url must be a URL"], "statusCode": 400}
    # a refused parameter the bot chose is the operator's configuration (issue 11, finding 5)
    with pytest.raises(ProviderConfigError, match="duration must be <= 15; image_url"):
        await provider(Replay(httpx.Response(400, json=listed))).submit(request())


async def test_429_retry_after_then_gives_up(no_sleep: list[float]) -> None:
    limited = httpx.Response(429, headers={"Retry-After": "2"}, json=data("error_429"))
    replay = Replay(limited, limited, limited, limited)
    with pytest.raises(RateLimited) as info:
        await provider(replay).submit(request())
    assert len(replay.requests) == 1 + _http.RATE_LIMIT_RETRIES
    assert no_sleep == [2.0] * _http.RATE_LIMIT_RETRIES and info.value.retry_after == 2


async def test_truncated_create_answer_is_outcome_unknown() -> None:
    cut = httpx.Response(200, content=b'{"id": "60ac7c34-3224')
    with pytest.raises(ProviderTimeout) as info:
        await provider(Replay(cut)).submit(request())
    assert info.value.outcome_unknown


def test_callbacks_are_refused() -> None:
    with pytest.raises(InvalidCallback):
        provider(Replay()).callback_task_id({}, b'{"id": "x"}')
